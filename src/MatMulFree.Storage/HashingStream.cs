using System.Security.Cryptography;

namespace MatMulFree.Storage;

/// <summary>
/// A forward-only pass-through that SHA-256 hashes and counts every byte read from (or written to)
/// the inner stream. It hides the inner stream's seeking on purpose: the Azure SDK then has to read
/// an upload (and write a download) strictly in order, which is what makes one hash pass correct
/// while blocks still travel in parallel. Without a hash it only counts and stays forward-only.
/// </summary>
internal sealed class HashingStream : Stream
{
    private readonly Stream inner;
    private readonly bool reading;
    private readonly bool leaveOpen;
    private readonly IncrementalHash? hash;

    private HashingStream(Stream inner, bool reading, bool leaveOpen, bool hashing)
    {
        this.inner = inner;
        this.reading = reading;
        this.leaveOpen = leaveOpen;
        hash = hashing ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
    }

    public static HashingStream ForReading(Stream source, bool leaveOpen = false) => new(source, true, leaveOpen, hashing: true);
    public static HashingStream ForWriting(Stream destination, bool leaveOpen = false) => new(destination, false, leaveOpen, hashing: true);

    /// <summary>Counts and hides seeking, without hashing (the layer above already hashes).</summary>
    public static HashingStream ForwardOnly(Stream inner, bool reading) => new(inner, reading, leaveOpen: true, hashing: false);

    /// <summary>Bytes that went through so far.</summary>
    public long BytesHashed { get; private set; }

    /// <summary>Lowercase hex SHA-256 of everything so far.</summary>
    public string Sha256Hex() =>
        Convert.ToHexStringLower((hash ?? throw new InvalidOperationException("this stream only counts")).GetCurrentHash());

    public override bool CanRead => reading;
    public override bool CanWrite => !reading;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesHashed; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        EnsureReading();
        var read = inner.Read(buffer);
        Add(buffer[..read]);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureReading();
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Add(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        EnsureWriting();
        inner.Write(buffer);
        Add(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureWriting();
        await inner.WriteAsync(buffer, cancellationToken);
        Add(buffer.Span);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        if (!reading) inner.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        reading ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            hash?.Dispose();
            if (!leaveOpen) inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        hash?.Dispose();
        if (!leaveOpen) await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    private void Add(ReadOnlySpan<byte> bytes)
    {
        hash?.AppendData(bytes);
        BytesHashed += bytes.Length;
    }

    private void EnsureReading()
    {
        if (!reading) throw new NotSupportedException("this hashing stream is for writing");
    }

    private void EnsureWriting()
    {
        if (reading) throw new NotSupportedException("this hashing stream is for reading");
    }
}
