using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MatMulFree.Core.Tokenization;
using MatMulFree.Storage;

namespace MatMulFree.Training;

/// <summary>
/// Tokenizes documents into shards of a data set in a store (<c>mmf data prepare</c>): each
/// document becomes [BOS] tokens [EOS], shards hold up to <paramref name="shardTokens"/> tokens,
/// and <c>dataset.json</c> is written last.
/// </summary>
public sealed class DatasetWriter(IBlobStore store, string prefix, ITextTokenizer tokenizer, long shardTokens = 64L << 20)
{
    public async Task<DatasetManifest> WriteAsync(IEnumerable<string> documents, IProgress<long>? tokensDone = null, CancellationToken cancellationToken = default)
    {
        int tokenBytes = tokenizer.VocabSize <= 1 << 16 ? 2 : 4;
        var shards = new List<DatasetShard>();
        var buffer = new MemoryStream();
        long documentCount = 0, total = 0, inShard = 0;
        foreach (string document in documents)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = new List<int>(tokenizer.Encode(document, addBos: true));
            if (tokenizer.EosId is int eos) ids.Add(eos);
            foreach (int id in ids)
            {
                Append(buffer, id, tokenBytes);
                if (++inShard == shardTokens)
                {
                    shards.Add(await FlushAsync(buffer, shards.Count, inShard, cancellationToken));
                    inShard = 0;
                }
            }
            documentCount++;
            total += ids.Count;
            tokensDone?.Report(total);
        }
        if (inShard > 0) shards.Add(await FlushAsync(buffer, shards.Count, inShard, cancellationToken));
        if (shards.Count == 0) throw new TrainingException("--input holds no text: the data set would be empty");

        var manifest = new DatasetManifest
        {
            Tokenizer = tokenizer.Name, VocabSize = tokenizer.VocabSize, TokenBytes = tokenBytes, Documents = documentCount, Shards = shards,
        };
        await using var json = new MemoryStream(Encoding.UTF8.GetBytes(manifest.ToJson()));
        await store.PutAsync(Join(DatasetManifest.FileName), json, cancellationToken: cancellationToken);
        return manifest;
    }

    private static void Append(MemoryStream buffer, int id, int tokenBytes)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (tokenBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(bytes, checked((ushort)id));
        else BinaryPrimitives.WriteUInt32LittleEndian(bytes, checked((uint)id));
        buffer.Write(bytes[..tokenBytes]);
    }

    private async Task<DatasetShard> FlushAsync(MemoryStream buffer, int index, long tokens, CancellationToken cancellationToken)
    {
        string name = $"shard-{index:D5}.bin";
        string sha = Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        buffer.Position = 0;
        await store.PutAsync(Join(name), new MemoryStream(buffer.GetBuffer(), 0, (int)buffer.Length, writable: false), cancellationToken: cancellationToken);
        buffer.SetLength(0);
        return new DatasetShard(name, tokens, sha);
    }

    private string Join(string name) => prefix.Length == 0 ? name : $"{prefix}/{name}";
}
