using Microsoft.ML.Tokenizers;

namespace MatMulFree.Core.Tokenization;

/// <summary>
/// The Llama/Mistral SentencePiece BPE tokenizer of the released checkpoints (byte fallback,
/// a dummy-prefix space), run by Microsoft.ML.Tokenizers from a SentencePiece model proto.
/// </summary>
public sealed class SentencePieceTextTokenizer : ITextTokenizer
{
    private readonly SentencePieceTokenizer _tokenizer;

    private SentencePieceTextTokenizer(SentencePieceTokenizer tokenizer, string name)
    {
        _tokenizer = tokenizer;
        Name = name;
        VocabSize = tokenizer.Vocabulary.Count;
    }

    /// <param name="modelProto">A <c>tokenizer.model</c> file's bytes (a SentencePiece ModelProto).</param>
    /// <param name="source">Where it came from, for messages.</param>
    public static SentencePieceTextTokenizer FromModelProto(Stream modelProto, string source)
    {
        try
        {
            return new(SentencePieceTokenizer.Create(modelProto, false, false), $"SentencePiece {source}");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IOException
                                   or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new TokenizerException($"{source}: not a usable SentencePiece model ({e.Message})");
        }
    }

    public string Name { get; }
    public int VocabSize { get; }
    public int? BosId => _tokenizer.BeginningOfSentenceId;
    public int? EosId => _tokenizer.EndOfSentenceId;

    public IReadOnlyList<int> Encode(string text, bool addBos) =>
        _tokenizer.EncodeToIds(text, addBeginningOfSentence: addBos, addEndOfSentence: false);

    public string Decode(IReadOnlyList<int> ids) => _tokenizer.Decode(ids, considerSpecialTokens: false);
}
