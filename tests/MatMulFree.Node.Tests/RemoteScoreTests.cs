using MatMulFree.Core;
using MatMulFree.Engine;
using MatMulFree.Serving;
using MatMulFree.Serving.Library.Tests;

namespace MatMulFree.Node.Tests;

/// <summary>Scoring through a node gives the engine's loss to the last bit.</summary>
public sealed class RemoteScoreTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public async Task DeviceScorer_Score_ThroughANodeEqualsTheEngineScorer(int maxBatch)
    {
        await using var node = await LocalNode.StartAsync(maxBatch: maxBatch, load: true);
        using var device = await node.ConnectAsync();
        using var folder = ModelFolder.Open(TinyModel.Directory);
        long[,] ids = Golden(folder);

        var expected = EngineScorer.Score(folder, ids);
        var actual = DeviceScorer.Score(device, ids);

        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.Equal(expected.Loss, actual.Loss);
        // Every session the scorer made is gone: the node's whole capacity is free again.
        for (int i = 0; i < device.Capacity.MaxSessions; i++)
            device.CreateSession();
    }

    private static long[,] Golden(ModelFolder folder)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "tests", "data", "golden", "tiny.golden.safetensors");
            if (File.Exists(path))
                return TokenInputReader.Read(path, folder.Tokenizer, folder.Config.VocabSize);
        }
        throw new FileNotFoundException("tests/data/golden/tiny.golden.safetensors not found");
    }
}
