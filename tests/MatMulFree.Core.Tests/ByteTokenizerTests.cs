using System.Text;
using MatMulFree.Core.Tokenization;

namespace MatMulFree.Core.Tests;

public sealed class ByteTokenizerTests
{
    [Fact]
    public void Encode_Utf8Text_IsItsBytesAfterBos()
    {
        var tokenizer = new ByteTokenizer(260, bosId: 256, eosId: 257);
        IReadOnlyList<int> ids = tokenizer.Encode("é!", addBos: true);
        Assert.Equal([256, 0xC3, 0xA9, (int)'!'], ids);
        Assert.Equal("é!", tokenizer.Decode([.. ids, 257]));
    }

    [Fact]
    public void Constructor_VocabularyUnder256_Throws()
    {
        var e = Assert.Throws<TokenizerException>(() => new ByteTokenizer(200, 1, 2));
        Assert.Contains("at least 256", e.Message);
    }

    [Fact]
    public void StreamingDecoder_MultiByteCharacters_ComeOutWhole()
    {
        var tokenizer = new ByteTokenizer(256, 1, 2);
        const string text = "aé😀b";
        StreamingDecoder decoder = ((ITextTokenizer)tokenizer).CreateStreamingDecoder();
        var pieces = Encoding.UTF8.GetBytes(text).Select(b => decoder.Push(b)).ToList();
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(["a", "", "é", "", "", "", "😀", "b"], pieces);
    }

    [Fact]
    public void TokenizerLoader_FolderWithoutFiles_FallsBackToBytesAndSaysSo()
    {
        string dir = Directory.CreateTempSubdirectory("mmf-tok-").FullName;
        try
        {
            string? notice = null;
            ITextTokenizer tokenizer = TokenizerLoader.ForModel(dir, ModelConfig.Preset("tiny"), n => notice = n);
            Assert.IsType<ByteTokenizer>(tokenizer);
            Assert.Contains("byte-level", notice);
            var small = ModelConfig.Preset("tiny") with { VocabSize = 100, BosTokenId = 1, EosTokenId = 2 };
            Assert.Throws<TokenizerException>(() => TokenizerLoader.ForModel(dir, small));
        }
        finally { Directory.Delete(dir, true); }
    }
}
