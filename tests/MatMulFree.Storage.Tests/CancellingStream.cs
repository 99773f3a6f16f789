namespace MatMulFree.Storage.Tests;

/// <summary>
/// Serves bytes and cancels <paramref name="cancellation"/> once <paramref name="cancelAfter"/> of
/// them have been read: an upload interrupted half-way, from the inside.
/// </summary>
internal sealed class CancellingStream(byte[] bytes, long cancelAfter, CancellationTokenSource cancellation) : Stream
{
    private long position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => bytes.Length;
    public override long Position { get => position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (position >= cancelAfter)
        {
            cancellation.Cancel();
            cancellation.Token.ThrowIfCancellationRequested();
        }
        var n = (int)Math.Min(count, Math.Min(bytes.Length, cancelAfter) - position);
        Array.Copy(bytes, position, buffer, offset, n);
        position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer, offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var array = new byte[buffer.Length];
        var n = Read(array, 0, array.Length);
        array.AsSpan(0, n).CopyTo(buffer.Span);
        return ValueTask.FromResult(n);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
