namespace MatMulFree.Storage.Tests;

public sealed class HashingStreamTests
{
    // FIPS 180-2 test vector: SHA-256("abc").
    private const string AbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    [Fact]
    public async Task HashingStream_ForReading_ChunkedReads_HashesAndCountsEveryByte()
    {
        await using var hashing = HashingStream.ForReading(new MemoryStream("abc"u8.ToArray()));
        var buffer = new byte[1];
        while (await hashing.ReadAsync(buffer) > 0) { }
        Assert.Equal((3L, AbcSha256), (hashing.BytesHashed, hashing.Sha256Hex()));
    }

    [Fact]
    public async Task HashingStream_ForWriting_PassesBytesThroughAndHashes()
    {
        var sink = new MemoryStream();
        await using var hashing = HashingStream.ForWriting(sink, leaveOpen: true);
        await hashing.WriteAsync("ab"u8.ToArray());
        hashing.Write("c"u8);
        Assert.Equal("abc"u8.ToArray(), sink.ToArray());
        Assert.Equal(AbcSha256, hashing.Sha256Hex());
        Assert.False(hashing.CanSeek);
    }
}
