namespace MatMulFree.Core.Tokenization;

/// <summary>Text to token ids and back, for one model's vocabulary.</summary>
public interface ITextTokenizer
{
    /// <summary>What it is, for messages ("byte-level", "SentencePiece tokenizer.model").</summary>
    string Name { get; }

    /// <summary>The number of ids it can produce; must not exceed the model's vocabulary.</summary>
    int VocabSize { get; }

    int? BosId { get; }
    int? EosId { get; }

    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>Text of the ids; special tokens (BOS, EOS) are left out.</summary>
    string Decode(IReadOnlyList<int> ids);

    StreamingDecoder CreateStreamingDecoder() => new(Decode);
}
