using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Silo.Benchmarks;

/// <summary>
/// What a session must produce: its turns run alone on a private engine, exactly as a backend
/// runs them (prefill the pending token plus the message, sample with the turn's seed, decode
/// every token but the last). Tests and `mmf bench serve --verify` compare served output with it.
/// </summary>
public static class SessionOracle
{
    public static List<int[]> RunAlone(InferenceEngine engine, SamplingSettings sampling, IEnumerable<(int[] Message, int MaxTokens)> turns, bool stopAtEos = true)
    {
        int vocab = engine.Model.Config.VocabSize, eos = engine.Model.Config.EosTokenId;
        var state = engine.CreateState();
        var logits = new float[vocab];
        var outputs = new List<int[]>();
        int pending = -1, turn = 0;
        foreach (var (message, maxTokens) in turns)
        {
            int[] input = pending >= 0 ? [pending, .. message] : message;
            var sampler = new Sampler(sampling.ForTurn(turn++, maxTokens), vocab);
            engine.Prefill(state, input, logits);
            var output = new List<int>();
            pending = -1;
            for (int k = 0; k < maxTokens; k++)
            {
                int token = sampler.Next(logits, []);
                output.Add(token);
                if (k + 1 == maxTokens || stopAtEos && token == eos)
                {
                    pending = token;
                    break;
                }
                engine.Decode(state, token, logits);
            }
            outputs.Add([.. output]);
        }
        return outputs;
    }
}
