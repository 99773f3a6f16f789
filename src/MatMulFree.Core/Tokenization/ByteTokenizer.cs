using System.Text;

namespace MatMulFree.Core.Tokenization;

/// <summary>
/// Byte-level tokenizer for models trained from scratch: token id = UTF-8 byte value, so it
/// needs no files and fits any vocabulary of 256 or more. Ids of 256 and above are special
/// tokens (BOS, EOS, padding) and decode to nothing.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public const int ByteCount = 256;

    public ByteTokenizer(int vocabSize, int? bosId, int? eosId)
    {
        if (vocabSize < ByteCount)
            throw new TokenizerException($"the byte-level tokenizer needs a vocabulary of at least {ByteCount}, the model has {vocabSize}");
        VocabSize = vocabSize;
        BosId = bosId;
        EosId = eosId;
    }

    public string Name => "byte-level";
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new List<int>(bytes.Length + 1);
        if (addBos && BosId is int bos) ids.Add(bos);
        foreach (byte b in bytes) ids.Add(b);
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>(ids.Count);
        foreach (int id in ids)
        {
            // A BOS/EOS id below 256 (the golden test models use 1 and 2) is still a special token.
            if (id is >= 0 and < ByteCount && id != BosId && id != EosId)
                bytes.Add((byte)id);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
