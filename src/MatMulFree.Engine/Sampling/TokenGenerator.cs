namespace MatMulFree.Engine.Sampling;

/// <summary>Prompt in, tokens out one at a time: prefill, then decode and sample until a stop token or the limit.</summary>
public static class TokenGenerator
{
    public static IEnumerable<int> Generate(InferenceEngine engine, RecurrentState state, IReadOnlyList<int> prompt, SamplingOptions options)
    {
        options.Validate();
        if (prompt.Count == 0)
            throw new EngineException("the prompt must hold at least one token (add BOS)");
        return Run(engine, state, prompt, options);
    }

    private static IEnumerable<int> Run(InferenceEngine engine, RecurrentState state, IReadOnlyList<int> prompt, SamplingOptions options)
    {
        var sampler = new Sampler(options, engine.Model.Config.VocabSize);
        var logits = new float[engine.Model.Config.VocabSize];
        var history = new List<int>(prompt);
        engine.Prefill(state, prompt.ToArray(), logits);
        for (int produced = 0; produced < options.MaxTokens; produced++)
        {
            int next = sampler.Next(logits, history);
            if (options.StopTokens.Contains(next))
                yield break;
            yield return next;
            history.Add(next);
            if (produced + 1 < options.MaxTokens)
                engine.Decode(state, next, logits);
        }
    }
}
