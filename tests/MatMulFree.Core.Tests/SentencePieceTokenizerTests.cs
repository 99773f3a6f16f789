using System.Text;
using MatMulFree.Core.Tokenization;

namespace MatMulFree.Core.Tests;

public sealed class SentencePieceTokenizerTests
{
    // Spaces, digits, accents, emoji, CJK, control characters and byte fallback.
    private static readonly string[] TrickyTexts =
    [
        "Hello, my dog is cute",
        "  two  leading spaces and  double  inside ",
        "naïve café, Crème brûlée",
        "1234567890 3.14159 -42",
        "emoji 😀🎉 and ZWJ 👩‍💻",
        "日本語のテキスト 中文 한국어",
        "tab\there\nnewline\r\nwindows",
        "\u0007bell and \u0001 control",
        "MatMul-free language models use ternary weights {-1, 0, +1}.",
        "a",
        "",
        "ǅ ß ﬁ Ω ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ];

    private static readonly Lazy<SentencePieceTextTokenizer> Tokenizer = new(() =>
    {
        string path = OracleTokenizer.TokenizerJsonPath;
        using var proto = new MemoryStream(HuggingFaceTokenizerJson.ToSentencePieceModel(path));
        return SentencePieceTextTokenizer.FromModelProto(proto, path);
    });

    [Fact]
    public void Encode_TrickyTexts_MatchesIndependentJavaScriptTokenizer()
    {
        int[][] expected = OracleTokenizer.Encode(TrickyTexts);
        for (int i = 0; i < TrickyTexts.Length; i++)
            Assert.True(expected[i].SequenceEqual(Tokenizer.Value.Encode(TrickyTexts[i], addBos: false)),
                $"text {i} \"{TrickyTexts[i]}\": expected [{string.Join(",", expected[i])}], got [{string.Join(",", Tokenizer.Value.Encode(TrickyTexts[i], false))}]");
    }

    [Fact]
    public void Decode_EncodedText_RoundTrips()
    {
        foreach (string text in TrickyTexts.Where(t => !t.StartsWith(' ')))
            Assert.Equal(text, Tokenizer.Value.Decode(Tokenizer.Value.Encode(text, addBos: true)));
    }

    [Fact]
    public void Encode_WithBos_StartsWithBosId()
    {
        IReadOnlyList<int> ids = Tokenizer.Value.Encode("hi", addBos: true);
        Assert.Equal(1, Tokenizer.Value.BosId);
        Assert.Equal(1, ids[0]);
        Assert.Equal(32000, Tokenizer.Value.VocabSize);
    }

    [Fact]
    public void StreamingDecoder_ByteFallbackEmoji_EmitsWholeCharactersOnly()
    {
        const string text = "ok 😀 日本";
        IReadOnlyList<int> ids = Tokenizer.Value.Encode(text, addBos: false);
        StreamingDecoder decoder = ((ITextTokenizer)Tokenizer.Value).CreateStreamingDecoder();
        var output = new StringBuilder();
        foreach (int id in ids)
        {
            string piece = decoder.Push(id);
            Assert.DoesNotContain('\uFFFD', piece);
            output.Append(piece);
        }
        output.Append(decoder.Flush());
        Assert.Equal(text, output.ToString());
    }

    [Fact]
    public void ToSentencePieceModel_NotBpe_ThrowsNamingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"wordpiece-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"model": {"type": "WordPiece", "vocab": {}}}""");
        try
        {
            var e = Assert.Throws<TokenizerException>(() => HuggingFaceTokenizerJson.ToSentencePieceModel(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("BPE", e.Message);
        }
        finally { File.Delete(path); }
    }
}
