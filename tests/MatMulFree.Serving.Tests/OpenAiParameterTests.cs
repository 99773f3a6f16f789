using System.Net;
using System.Text.Json.Nodes;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// The OpenAI request fields beyond the prompt: each does what the OpenAI API defines (stop, n, a
/// list of prompts, echo, the penalties, stream_options.include_usage, the streamed role) or is
/// refused with a 400 naming it, and a request without a seed gets one drawn and returned.
/// </summary>
public sealed class OpenAiParameterTests : HttpSiloTest
{
    private static int[] Ids(JsonNode choice) => [.. choice["token_ids"]!.AsArray().Select(n => n!.GetValue<int>())];

    private async Task<JsonNode> CompleteAsync(string json)
    {
        var response = await PostAsync("/v1/completions", json);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    [Fact]
    public async Task Completions_Stop_TextEndsBeforeTheStopStringWithFinishStop()
    {
        const string greedy = """{"model":"tiny","prompt":"Hello","max_tokens":24,"temperature":0,"stop_at_eos":false""";
        string full = (await CompleteAsync(greedy + "}"))["choices"]![0]!["text"]!.GetValue<string>();
        Assert.True(full.Length >= 8, $"the greedy text is too short to cut: '{full}'");
        string stop = full.Substring(full.Length / 2, 2);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        string stops = JsonValue.Create(stop).ToJsonString();

        var single = (await CompleteAsync(greedy + $",\"stop\":{stops}}}"))["choices"]![0]!;
        var listed = (await CompleteAsync(greedy + $",\"stop\":[\"never seen\",{stops}]}}"))["choices"]![0]!;
        var streamed = await EventsAsync(await PostAsync("/v1/completions", greedy + $",\"stop\":{stops},\"stream\":true}}"));

        Assert.Equal(expected, single["text"]!.GetValue<string>());
        Assert.Equal("stop", single["finish_reason"]!.GetValue<string>());
        Assert.Equal(expected, listed["text"]!.GetValue<string>());
        Assert.Equal(expected, string.Concat(streamed.Select(c => c["choices"]![0]!["text"]!.GetValue<string>())));
        Assert.Equal("stop", streamed[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(Ids(single), streamed.Select(c => c["choices"]![0]!["token_ids"]![0]!.GetValue<int>()));
    }

    [Fact]
    public async Task ChatCompletions_Stop_ContentEndsBeforeTheStopString()
    {
        const string greedy = """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":24,"temperature":0,"stop_at_eos":false""";
        string full = (await JsonAsync(await PostAsync("/v1/chat/completions", greedy + "}")))["choices"]![0]!["message"]!["content"]!.GetValue<string>();
        string stop = full.Substring(full.Length / 2, 2);

        var answer = (await JsonAsync(await PostAsync("/v1/chat/completions", greedy + $",\"stop\":{JsonValue.Create(stop).ToJsonString()}}}")))["choices"]![0]!;

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], answer["message"]!["content"]!.GetValue<string>());
        Assert.Equal("stop", answer["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Completions_NoSeed_DrawsOneReturnsItAndItReproducesTheText()
    {
        const string request = """{"model":"tiny","prompt":"Hello","max_tokens":24,"temperature":1,"stop_at_eos":false""";
        var first = await CompleteAsync(request + "}");
        var second = await CompleteAsync(request + "}");
        ulong seed = first["seed"]!.GetValue<ulong>();
        var replay = await CompleteAsync(request + $",\"seed\":{seed}}}");

        Assert.NotEqual(seed, second["seed"]!.GetValue<ulong>());
        Assert.NotEqual(Ids(first["choices"]![0]!), Ids(second["choices"]![0]!));
        Assert.Equal(Ids(first["choices"]![0]!), Ids(replay["choices"]![0]!));
        Assert.Equal(seed, replay["seed"]!.GetValue<ulong>());
    }

    [Fact]
    public async Task Sessions_NoSeed_EachSessionDrawsItsOwn()
    {
        var a = await JsonAsync(await PostAsync("/v1/sessions", """{"model":"tiny","temperature":1}"""));
        var b = await JsonAsync(await PostAsync("/v1/sessions", """{"model":"tiny","temperature":1}"""));

        Assert.NotEqual(a["sampling"]!["seed"]!.GetValue<ulong>(), b["sampling"]!["seed"]!.GetValue<ulong>());
    }

    [Fact]
    public async Task Completions_N_IndependentSeededChoicesTheFirstAsWithNOne()
    {
        const string request = """{"model":"tiny","prompt":"Hello","max_tokens":16,"temperature":1,"seed":7,"stop_at_eos":false""";
        var one = await CompleteAsync(request + "}");
        var three = await CompleteAsync(request + ",\"n\":3}");
        var again = await CompleteAsync(request + ",\"n\":3}");
        var streamed = await EventsAsync(await PostAsync("/v1/completions", request + ",\"n\":3,\"stream\":true}"));

        var choices = three["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => c!["index"]!.GetValue<int>()));
        Assert.Equal(Ids(one["choices"]![0]!), Ids(choices[0]!));
        Assert.Equal(3, choices.Select(c => string.Join(",", Ids(c!))).Distinct().Count());
        Assert.Equal(choices.Select(c => Ids(c!)), again["choices"]!.AsArray().Select(c => Ids(c!)));
        Assert.Equal(choices.Sum(c => Ids(c!).Length), three["usage"]!["completion_tokens"]!.GetValue<int>());
        for (int i = 0; i < 3; i++)
            Assert.Equal(Ids(choices[i]!), streamed.Select(c => c["choices"]![0]!).Where(c => c["index"]!.GetValue<int>() == i).Select(c => c["token_ids"]![0]!.GetValue<int>()));
    }

    [Fact]
    public async Task Completions_PromptList_OneChoicePerPromptInOrder()
    {
        const string rest = """ "max_tokens":8,"temperature":0}""";
        var hello = await CompleteAsync("""{"model":"tiny","prompt":"Hello",""" + rest);
        var bye = await CompleteAsync("""{"model":"tiny","prompt":"Good bye",""" + rest);
        var both = await CompleteAsync("""{"model":"tiny","prompt":["Hello","Good bye"],""" + rest);

        var choices = both["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        Assert.Equal(Ids(hello["choices"]![0]!), Ids(choices[0]!));
        Assert.Equal(Ids(bye["choices"]![0]!), Ids(choices[1]!));
        Assert.Equal(1, choices[1]!["index"]!.GetValue<int>());
        Assert.Equal(hello["usage"]!["prompt_tokens"]!.GetValue<int>() + bye["usage"]!["prompt_tokens"]!.GetValue<int>(), both["usage"]!["prompt_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Completions_Echo_PrependsThePrompt()
    {
        const string request = """{"model":"tiny","prompt":"Hello","max_tokens":8,"temperature":0""";
        string plain = (await CompleteAsync(request + "}"))["choices"]![0]!["text"]!.GetValue<string>();
        string echoed = (await CompleteAsync(request + ",\"echo\":true}"))["choices"]![0]!["text"]!.GetValue<string>();
        var streamed = await EventsAsync(await PostAsync("/v1/completions", request + ",\"echo\":true,\"stream\":true}"));

        Assert.Equal("Hello" + plain, echoed);
        Assert.Equal("Hello" + plain, string.Concat(streamed.Select(c => c["choices"]![0]!["text"]!.GetValue<string>())));
    }

    [Fact]
    public async Task Completions_Penalties_TokensAreTheEngineRunAloneWithThem()
    {
        var sampling = new SamplingSettings(0.7f, 0, 1f, 3, PresencePenalty: 1.5f, FrequencyPenalty: 0.5f);
        using var engine = TestModels.TinyEngine(out var model);
        int[] prompt = [.. model.Tokenizer.Encode("Hello", true)];
        int[] alone = TestModels.RunAlone(engine, sampling, [(prompt, 24)])[0];
        model.Dispose();
        var plain = await CompleteAsync("""{"model":"tiny","prompt":"Hello","max_tokens":24,"temperature":0.7,"seed":3}""");

        var penalized = await CompleteAsync("""{"model":"tiny","prompt":"Hello","max_tokens":24,"temperature":0.7,"seed":3,"presence_penalty":1.5,"frequency_penalty":0.5}""");

        Assert.Equal(alone, Ids(penalized["choices"]![0]!));
        Assert.NotEqual(Ids(plain["choices"]![0]!), Ids(penalized["choices"]![0]!));
    }

    [Fact]
    public async Task Completions_IncludeUsage_LastChunkHasUsageAndNoChoices()
    {
        var chunks = await EventsAsync(await PostAsync("/v1/completions",
            """{"model":"tiny","prompt":"Hello","max_tokens":6,"seed":1,"stream":true,"stream_options":{"include_usage":true}}"""));

        Assert.Empty(chunks[^1]["choices"]!.AsArray());
        Assert.Equal(chunks.Length - 1, chunks[^1]["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.All(chunks[..^1], c => Assert.Null(c["usage"]));
    }

    [Fact]
    public async Task ChatCompletions_Stream_FirstChunkCarriesTheAssistantRole()
    {
        var chunks = await EventsAsync(await PostAsync("/v1/chat/completions",
            """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"seed":1,"stream":true}"""));

        Assert.Equal("assistant", chunks[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        Assert.All(chunks[1..], c => Assert.Null(c["choices"]![0]!["delta"]!["role"]));
    }

    [Fact]
    public async Task Completions_Logprobs_AreTheLogSoftmaxOfTheEngineRunAloneAtTheTemperature()
    {
        const string request = """{"model":"tiny","prompt":"Hello","max_tokens":10,"temperature":0.8,"seed":5,"stop_at_eos":false,"logprobs":3""";
        var choice = (await CompleteAsync(request + "}"))["choices"]![0]!;
        var streamed = await EventsAsync(await PostAsync("/v1/completions", request + ",\"stream\":true}"));

        int[] tokens = Ids(choice);
        var logprobs = choice["logprobs"]!;
        using var engine = TestModels.TinyEngine(out var model);
        var state = engine.CreateState();
        var logits = new float[model.Config.VocabSize];
        engine.Prefill(state, [.. model.Tokenizer.Encode("Hello", true)], logits);
        for (int i = 0; i < tokens.Length; i++)
        {
            var z = logits.Select(l => l / 0.8).ToArray();
            double logSum = Math.Log(z.Sum(x => Math.Exp(x - z.Max()))) + z.Max();
            Assert.Equal(z[tokens[i]] - logSum, logprobs["token_logprobs"]![i]!.GetValue<double>(), 4);
            var best = Enumerable.Range(0, z.Length).OrderByDescending(t => z[t]).ThenBy(t => t).Take(3).ToArray();
            var top = logprobs["top_logprobs"]![i]!.AsObject();
            Assert.Equal(z[best[0]] - logSum, top.Select(p => p.Value!.GetValue<double>()).Max(), 4);
            Assert.Equal(model.Tokenizer.Decode([tokens[i]]), logprobs["tokens"]![i]!.GetValue<string>());
            engine.Decode(state, tokens[i], logits);
        }
        model.Dispose();
        Assert.Equal(logprobs["token_logprobs"]!.AsArray().Select(n => n!.GetValue<double>()),
            streamed.Select(c => c["choices"]![0]!["logprobs"]!["token_logprobs"]![0]!.GetValue<double>()));
    }

    [Fact]
    public async Task ChatCompletions_Logprobs_OneEntryPerTokenWithTopAlternatives()
    {
        var answer = await JsonAsync(await PostAsync("/v1/chat/completions",
            """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0,"stop_at_eos":false,"logprobs":true,"top_logprobs":2}"""));

        var choice = answer["choices"]![0]!;
        var content = choice["logprobs"]!["content"]!.AsArray();
        Assert.Equal(Ids(choice).Length, content.Count);
        Assert.All(content, entry =>
        {
            var top = entry!["top_logprobs"]!.AsArray();
            Assert.Equal(2, top.Count);
            // Greedy: the token is the most likely one.
            Assert.Equal(top[0]!["logprob"]!.GetValue<double>(), entry["logprob"]!.GetValue<double>(), 6);
            Assert.True(top[0]!["logprob"]!.GetValue<double>() >= top[1]!["logprob"]!.GetValue<double>());
            Assert.True(entry["logprob"]!.GetValue<double>() <= 0);
        });
    }

    [Theory]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","stop":5}""", "stop must be a string")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","stop":[1]}""", "stop[0]")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","stop":["a","b","c","d","e"]}""", "at most 4")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","stop":""}""", "stop strings must not be empty")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","n":0}""", "n must be in [1, 16]")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","n":17}""", "n must be in [1, 16]")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":["a","b","c"],"n":6}""", "at most 16")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":["a",1]}""", "not a mix")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":[]}""", "empty")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","logprobs":6}""", "logprobs must be an integer in [0, 5]")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","logprobs":true}""", "logprobs must be an integer in [0, 5]")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","top_logprobs":2}""", "top_logprobs is a field of /v1/chat/completions")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","echo":true,"logprobs":1}""", "echo with logprobs")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"logprobs":2}""", "logprobs must be true or false")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"top_logprobs":3}""", "top_logprobs needs logprobs: true")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}""", "top_logprobs must be in [0, 20]")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"echo":true}""", "echo")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","presence_penalty":2.5}""", "presence_penalty must be in [-2, 2], got 2.5")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","frequency_penalty":-3}""", "frequency_penalty must be in [-2, 2], got -3")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","temperature":-1}""", "temperature must be a finite number ≥ 0, got -1")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","stream_options":{"include_usage":true}}""", "stream_options")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null}]}""", "messages[1].content")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[null]}""", "messages[0] must be an object")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}""", "$.messages[0].content")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","seed":-1}""", "$.seed")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","content":"b"}""", "content is a field of session messages")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","logit_bias":{"65":100}}""", "logit_bias is not supported")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","suffix":"b"}""", "suffix is not supported")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","best_of":2}""", "best_of is not supported")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"tools":[]}""", "tools is not supported")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""", "response_format is not supported")]
    [InlineData("/v1/sessions", """{"model":"tiny","stop":"x"}""", "stop")]
    [InlineData("/v1/sessions", """{"model":"tiny","n":2}""", "n is not")]
    public async Task OpenAiFields_Refused_400NamesTheField(string path, string body, string fragment)
    {
        var response = await PostAsync(path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(fragment, ErrorMessage(await JsonAsync(response)));
    }

    [Fact]
    public async Task Completions_FieldsThatChangeNothing_AreAccepted()
    {
        var response = await PostAsync("/v1/completions", """{"model":"tiny","prompt":"a","max_tokens":2,"user":"u-1","logit_bias":null,"metadata":{"k":"v"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"content":"x","temperature":0.5}""", "temperature")]
    [InlineData("""{"content":"x","stop":"y"}""", "stop")]
    [InlineData("""{"content":"x","n":2}""", "n is not")]
    public async Task SessionMessage_SamplingOrChoiceFields_400NamesTheField(string body, string fragment)
    {
        string id = (await JsonAsync(await PostAsync("/v1/sessions", """{"model":"tiny","seed":1}""")))["id"]!.GetValue<string>();

        var response = await PostAsync($"/v1/sessions/{id}/messages", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(fragment, ErrorMessage(await JsonAsync(response)));
    }
}
