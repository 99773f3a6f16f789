namespace MatMulFree.Engine.Sampling;

/// <summary>How the next token is picked from the logits; the same options and seed give the same tokens.</summary>
public sealed record SamplingOptions
{
    /// <summary>0 means greedy (argmax); otherwise logits are divided by it before the softmax.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the K most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P; 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>CTRL-style penalty on tokens already seen (positive logits divided, negative multiplied); 1 is none.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>
    /// OpenAI's penalties on the tokens this sampler has produced (the prompt does not count):
    /// logit[t] −= presence·[count[t] &gt; 0] + frequency·count[t]; both in [−2, 2], 0 is none.
    /// </summary>
    public float PresencePenalty { get; init; }

    /// <inheritdoc cref="PresencePenalty"/>
    public float FrequencyPenalty { get; init; }

    public int MaxTokens { get; init; } = 256;

    /// <summary>Generation ends after emitting one of these (it is not printed).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    public ulong Seed { get; init; }

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new EngineException($"--temperature must be a finite number ≥ 0, got {Temperature}");
        if (TopK < 0)
            throw new EngineException($"--top-k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1))
            throw new EngineException($"--top-p must be in (0, 1], got {TopP}");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty))
            throw new EngineException($"--repetition-penalty must be a finite number > 0, got {RepetitionPenalty}");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
            throw new EngineException($"--presence-penalty must be in [-2, 2], got {PresencePenalty}");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
            throw new EngineException($"--frequency-penalty must be in [-2, 2], got {FrequencyPenalty}");
        if (MaxTokens < 0)
            throw new EngineException($"--max-tokens must be ≥ 0, got {MaxTokens}");
    }
}
