using MatMulFree.Core.Tokenization;
using MatMulFree.Storage;

namespace MatMulFree.Training.Tests;

public sealed class DataTests
{
    [Fact]
    public void BatchSampler_MicroBatchesOf_GivesEveryMicroBatchToExactlyOneRank()
    {
        var sampler = new BatchSampler(TestRuns.Data(), sequenceLength: 16, microBatch: 2, microBatchesPerStep: 6, seed: 1);
        for (int ranks = 1; ranks <= 4; ranks++)
        {
            var all = Enumerable.Range(0, ranks).SelectMany(r => sampler.MicroBatchesOf(r, ranks)).Order().ToList();
            Assert.Equal(Enumerable.Range(0, 6), all);
        }
    }

    [Fact]
    public void BatchSampler_Batch_IsAFunctionOfSeedStepAndMicroBatchOnly()
    {
        var data = TestRuns.Data();
        var a = new BatchSampler(data, 16, 2, 4, seed: 3);
        var b = new BatchSampler(data, 16, 2, 4, seed: 3);
        var other = new BatchSampler(data, 16, 2, 4, seed: 4);
        Assert.Equal(a.Batch(7, 3), b.Batch(7, 3));
        Assert.NotEqual(a.Batch(7, 3), a.Batch(7, 2));
        Assert.NotEqual(a.Batch(7, 3), other.Batch(7, 3));
    }

    [Fact]
    public void BatchSampler_Batch_OneWideMicroBatchReadsWhatTwoNarrowOnesRead()
    {
        var data = TestRuns.Data();
        var wide = new BatchSampler(data, 16, microBatch: 4, microBatchesPerStep: 1, seed: 5);
        var narrow = new BatchSampler(data, 16, microBatch: 2, microBatchesPerStep: 2, seed: 5);
        Assert.Equal(wide.Batch(3, 0), narrow.Batch(3, 0).Concat(narrow.Batch(3, 1)));
    }

    [Fact]
    public void BatchSampler_SequenceIndex_VisitsEverySequenceOncePerEpoch()
    {
        var sampler = new BatchSampler(TestRuns.Data(1000), sequenceLength: 10, microBatch: 1, microBatchesPerStep: 1, seed: 9);
        Assert.Equal(100, sampler.SequenceCount);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = Enumerable.Range(0, 100).Select(k => sampler.SequenceIndex(epoch * 100 + k)).ToHashSet();
            Assert.Equal(100, seen.Count);
        }
    }

    [Fact]
    public void BatchSampler_Constructor_RefusesDataShorterThanOneSequence()
    {
        var error = Assert.Throws<TrainingException>(() => new BatchSampler(TestRuns.Data(10), 16, 1, 1, 1));
        Assert.Contains("--seq", error.Message);
    }

    [Fact]
    public void BrownCorpus_StripTags_GivesPlainText()
    {
        const string tagged = "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc didn't/dod* ./.\n\n\n\tIt/pps ended/vbd (/( early/rb )/) ./.\n";
        Assert.True(BrownCorpus.LooksTagged(tagged));
        Assert.Equal("The Fulton jury said \"no evidence\", and didn't.\n\nIt ended (early).", BrownCorpus.StripTags(tagged));
        Assert.False(BrownCorpus.LooksTagged("This directory contains the Brown Corpus, in Form C (tagged)."));
    }

    [Fact]
    public async Task DatasetWriter_WriteAsync_RoundTripsThroughAStoreInSeveralShards()
    {
        string root = TestRuns.TempFolder();
        string jsonl = Path.Combine(root, "docs.jsonl");
        await File.WriteAllLinesAsync(jsonl, ["{\"text\": \"hello\"}", "", "{\"text\": \"wörld\", \"id\": 2}"]);
        var store = new LocalFolderBlobStore(Path.Combine(root, "store"));
        var tokenizer = new ByteTokenizer(260, 256, 257);

        var manifest = await new DatasetWriter(store, "data/t", tokenizer, shardTokens: 4)
            .WriteAsync(TextSources.Documents([jsonl], TextFormat.Auto));
        var dataset = await TokenDataset.LoadAsync(store, "data/t");

        int[] expected = [256, .. "hello"u8.ToArray().Select(b => (int)b), 257, 256, .. "wörld"u8.ToArray().Select(b => (int)b), 257];
        Assert.Equal(expected, dataset.Tokens);
        Assert.Equal(2, manifest.Documents);
        Assert.Equal(2, manifest.TokenBytes);
        Assert.Equal((expected.Length + 3) / 4, manifest.Shards.Count);
    }

    [Fact]
    public async Task TokenDataset_LoadAsync_RefusesAShardWhoseBytesChanged()
    {
        string root = TestRuns.TempFolder();
        var store = new LocalFolderBlobStore(root);
        await new DatasetWriter(store, "d", new ByteTokenizer(256, null, null)).WriteAsync(["some text"]);
        string shard = Path.Combine(root, "d", "shard-00000.bin");
        var bytes = await File.ReadAllBytesAsync(shard);
        bytes[0] ^= 1;
        await File.WriteAllBytesAsync(shard, bytes);

        var error = await Assert.ThrowsAsync<TrainingException>(() => TokenDataset.LoadAsync(store, "d"));
        Assert.Contains("shard-00000.bin", error.Message);
    }

    [Fact]
    public void TextSources_Documents_NamesTheBadJsonLine()
    {
        string file = Path.Combine(TestRuns.TempFolder(), "bad.jsonl");
        File.WriteAllLines(file, ["{\"text\": \"ok\"}", "{\"body\": 1}"]);
        var error = Assert.Throws<TrainingException>(() => TextSources.Documents([file], TextFormat.Auto).ToList());
        Assert.Contains("bad.jsonl:2", error.Message);
    }

    [Fact]
    public void TrainingOptions_ToJson_RoundTrips()
    {
        var options = TestRuns.Options(2, 3) with { ClipNorm = 0.5, AdamW = new AdamWSettings(WeightDecay: 0.05) };
        var parsed = TrainingOptions.Parse(options.ToJson(), "test");
        Assert.Equal(options, parsed);
    }
}
