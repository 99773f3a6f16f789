namespace MatMulFree.Core.Tokenization;

/// <summary>
/// Picks a model folder's tokenizer: <c>tokenizer.model</c> (SentencePiece) when present, else
/// <c>tokenizer.json</c> (the same vocabulary as Hugging Face writes it), else the byte-level
/// tokenizer — which is announced through <paramref name="notice"/>, since silently tokenizing a
/// SentencePiece model's input as bytes would give plausible-looking nonsense.
/// </summary>
public static class TokenizerLoader
{
    public const string SentencePieceFile = "tokenizer.model";
    public const string HuggingFaceFile = "tokenizer.json";

    public static ITextTokenizer ForModel(string modelDir, ModelConfig config, Action<string>? notice = null)
    {
        ITextTokenizer tokenizer;
        string model = Path.Combine(modelDir, SentencePieceFile);
        string json = Path.Combine(modelDir, HuggingFaceFile);
        if (File.Exists(model))
        {
            using FileStream stream = File.OpenRead(model);
            tokenizer = SentencePieceTextTokenizer.FromModelProto(stream, model);
        }
        else if (File.Exists(json))
        {
            using var stream = new MemoryStream(HuggingFaceTokenizerJson.ToSentencePieceModel(json));
            tokenizer = SentencePieceTextTokenizer.FromModelProto(stream, json);
        }
        else
        {
            tokenizer = new ByteTokenizer(config.VocabSize, config.BosTokenId, config.EosTokenId);
            notice?.Invoke($"{modelDir}: no {SentencePieceFile} or {HuggingFaceFile}; using the byte-level tokenizer");
        }

        if (tokenizer.VocabSize > config.VocabSize)
            throw new TokenizerException(
                $"{modelDir}: the {tokenizer.Name} tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}");
        return tokenizer;
    }
}
