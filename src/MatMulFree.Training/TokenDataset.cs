using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MatMulFree.Storage;

namespace MatMulFree.Training;

/// <summary>
/// A prepared data set held in memory as one token stream (shards concatenated in order), every
/// shard checked against its SHA-256 on the way in. In memory because the corpora trained here
/// are small (the Brown corpus is 6 M byte tokens, 12 MB); a web-scale set would need ranged reads.
/// </summary>
public sealed class TokenDataset
{
    private TokenDataset(DatasetManifest manifest, int[] tokens, string source)
    {
        Manifest = manifest;
        Tokens = tokens;
        Source = source;
    }

    public DatasetManifest Manifest { get; }
    public int[] Tokens { get; }
    public string Source { get; }

    public static TokenDataset FromTokens(int[] tokens, int vocabSize) => new(new DatasetManifest
    {
        Tokenizer = "in-memory", VocabSize = vocabSize, TokenBytes = 4, Documents = 1, Shards = [new DatasetShard("memory", tokens.Length, "")],
    }, tokens, "memory");

    /// <summary>Reads <c>dataset.json</c> under <paramref name="prefix"/> and every shard it lists.</summary>
    public static async Task<TokenDataset> LoadAsync(IBlobStore store, string prefix, CancellationToken cancellationToken = default)
    {
        string Join(string name) => prefix.Length == 0 ? name : $"{prefix}/{name}";
        string manifestPath = Join(DatasetManifest.FileName);
        string source = $"{store.Location}/{manifestPath}";
        if (await store.GetPropertiesAsync(manifestPath, cancellationToken) is null)
            throw new TrainingException($"--data: no data set at {source} (run `mmf data prepare --out ...` first)");
        string json;
        await using (var stream = await store.OpenReadAsync(manifestPath, cancellationToken: cancellationToken))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
            json = await reader.ReadToEndAsync(cancellationToken);
        var manifest = DatasetManifest.Parse(json, source);

        var tokens = new int[checked((int)manifest.Tokens)];
        int at = 0;
        foreach (var shard in manifest.Shards)
        {
            using var bytes = new MemoryStream();
            await store.DownloadAsync(Join(shard.Path), bytes, cancellationToken: cancellationToken);
            string shardSource = $"{store.Location}/{Join(shard.Path)}";
            if (bytes.Length != shard.Tokens * manifest.TokenBytes)
                throw new TrainingException($"{shardSource}: {bytes.Length} bytes, the manifest says {shard.Tokens} tokens of {manifest.TokenBytes} bytes");
            if (Convert.ToHexStringLower(SHA256.HashData(bytes.GetBuffer().AsSpan(0, (int)bytes.Length))) != shard.Sha256)
                throw new TrainingException($"{shardSource}: SHA-256 does not match {source}");
            var span = bytes.GetBuffer().AsSpan(0, (int)bytes.Length);
            for (int i = 0; i < shard.Tokens; i++, at++)
                tokens[at] = manifest.TokenBytes == 2
                    ? BinaryPrimitives.ReadUInt16LittleEndian(span[(i * 2)..])
                    : checked((int)BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]));
        }
        return new TokenDataset(manifest, tokens, source);
    }
}
