using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace MatMulFree.Serving.Tests;

/// <summary>What the API makes of bodies that are not UTF-8 JSON text: a 4xx that says so, never a 500, and no compute for a body a browser may send cross-site.</summary>
public sealed class HttpRequestBodyTests : HttpSiloTest
{
    [Theory]
    [InlineData("/v1/completions")]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/sessions")]
    public async Task HttpApi_Post_InvalidUtf8Is400(string path)
    {
        byte[] body = [.. Encoding.UTF8.GetBytes("{\"model\":\"tiny\",\"prompt\":\"a"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")];
        var response = await PostAsync(path, new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid UTF-8", ErrorMessage(await JsonAsync(response)));
    }

    [Theory]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a\ud800b"}""")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"\udc00"}""")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"x\ud83d"}]}""")]
    [InlineData("/v1/completions", """{"model\ud800":"tiny","prompt":"a"}""")]
    public async Task HttpApi_Post_LoneSurrogateIs400(string path, string json)
    {
        var response = await PostAsync(path, json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("surrogate", ErrorMessage(await JsonAsync(response)));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data")]
    public async Task HttpApi_Post_BodyThatIsNotApplicationJsonIs415(string mediaType)
    {
        var response = await PostAsync("/v1/completions", """{"model":"tiny","prompt":"Hello","max_tokens":2}""", mediaType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("Content-Type", ErrorMessage(await JsonAsync(response)));
        Assert.All(Silo.Backends, b => Assert.Equal(0, b.Steps));
    }

    [Fact]
    public async Task HttpApi_Post_NoContentTypeIs415()
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"model":"tiny","prompt":"Hello"}"""));
        var response = await PostAsync("/v1/completions", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task HttpApi_Post_JsonWithCharsetIsAccepted()
    {
        var response = await PostAsync("/v1/completions", """{"model":"tiny","prompt":"Hello","max_tokens":2}""", "application/json; charset=utf-8");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task HttpApi_Post_Utf16BodyIs400NotValidUtf8()
    {
        var content = new ByteArrayContent(Encoding.Unicode.GetBytes("""{"model":"tiny","prompt":"Hello"}"""));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-16");
        var response = await PostAsync("/v1/completions", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid", ErrorMessage(await JsonAsync(response)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HttpApi_Post_BodyOverTheLimitIs413(bool announced)
    {
        string json = "{\"model\":\"tiny\",\"prompt\":\"" + new string('a', 5 << 20) + "\"}";
        HttpContent content = announced
            ? new ByteArrayContent(Encoding.UTF8.GetBytes(json))
            : new StreamContent(new Unannounced(Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await PostAsync("/v1/completions", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("body", ErrorMessage(await JsonAsync(response)));
    }

    /// <summary>A stream without a length, so the client sends the body chunked, with no Content-Length to refuse it by.</summary>
    private sealed class Unannounced(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
