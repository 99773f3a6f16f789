namespace MatMulFree.Training.Tests;

public sealed class GradientChunksTests
{
    private static float[] Vector(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(0, 16)]
    [InlineData(1, 16)]
    [InlineData(1000, 16)]
    [InlineData(1001, 12)]
    [InlineData(5000, 4096)]
    public void GradientChunks_Split_RoundTripsEveryFloatInChunksOfAtMostTheLimit(int length, int chunkBytes)
    {
        float[] source = Vector(length, 1);
        var copy = new float[length];
        int expectedOffset = 0;
        foreach (var chunk in GradientChunks.Split(source, 0, length, chunkBytes))
        {
            Assert.True(chunk.Bytes.Length <= chunkBytes);
            Assert.Equal(expectedOffset, chunk.Offset);
            GradientChunks.CopyInto(copy, chunk.Offset, chunk.Bytes);
            expectedOffset += chunk.Count;
        }
        Assert.Equal(length, expectedOffset);
        Assert.Equal(source, copy);
    }

    [Fact]
    public void GradientChunks_AddInto_AddsElementWise()
    {
        float[] target = [1, 2, 3, 4];
        var chunk = GradientChunks.Split([10f, 20f], 0, 2).Single();
        GradientChunks.AddInto(target, 1, chunk.Bytes);
        Assert.Equal([1f, 12f, 23f, 4f], target);
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(2, 3)]
    [InlineData(1_000_003, 7)]
    public void GradientChunks_Segment_PartitionsTheVector(int length, int ranks)
    {
        int next = 0;
        for (int r = 0; r < ranks; r++)
        {
            var (start, count) = GradientChunks.Segment(length, r, ranks);
            Assert.Equal(next, start);
            Assert.InRange(count, length / ranks, length / ranks + 1);
            next = start + count;
        }
        Assert.Equal(length, next);
    }

    [Fact]
    public void ReduceScatterBuffers_Reduce_IsTheRankOrderSumWhateverTheArrivalOrder()
    {
        const int length = 1001, ranks = 3;
        float[][] gradients = Enumerable.Range(0, ranks).Select(r => Vector(length, 10 + r)).ToArray();
        float[] expected = new float[length];
        for (int i = 0; i < length; i++) expected[i] = gradients[0][i] + gradients[1][i] + gradients[2][i];

        var reduced = new float[length];
        for (int owner = 0; owner < ranks; owner++)
        {
            var buffers = new ReduceScatterBuffers(length, owner, ranks);
            buffers.Begin(step: 4);
            // Senders in reverse order and in small chunks, as the network might deliver them.
            foreach (int sender in new[] { 2, 0, 1 })
                foreach (var chunk in GradientChunks.Split(gradients[sender], buffers.SegmentStart, buffers.SegmentCount, chunkBytes: 64).Reverse())
                    buffers.Receive(4, sender, chunk.Offset, chunk.Bytes);
            Assert.True(buffers.IsComplete);
            buffers.Reduce(reduced);
        }
        Assert.Equal(expected, reduced);
    }

    [Fact]
    public void ReduceScatterBuffers_Receive_RefusesAChunkOfAnotherStep()
    {
        var buffers = new ReduceScatterBuffers(10, 0, 2);
        buffers.Begin(3);
        var chunk = GradientChunks.Split(new float[10], 0, 5).Single();
        Assert.Throws<InvalidOperationException>(() => buffers.Receive(2, 1, 0, chunk.Bytes));
        Assert.False(buffers.IsComplete);
        Assert.Throws<InvalidOperationException>(() => buffers.Reduce(new float[10]));
    }
}
