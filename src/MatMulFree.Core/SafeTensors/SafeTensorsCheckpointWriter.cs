using System.Text.Json.Nodes;

namespace MatMulFree.Core.SafeTensors;

/// <summary>
/// Writes a model folder's weights as Hugging Face does: one <c>model.safetensors</c> when they
/// fit in a shard, else <c>model-0000k-of-0000n.safetensors</c> files and an index
/// (<c>model.safetensors.index.json</c>) that maps every tensor to its shard.
/// </summary>
public static class SafeTensorsCheckpointWriter
{
    public const long DefaultMaxShardBytes = 5L << 30; // Hugging Face's default max_shard_size "5GB"

    public static void Write(string modelDir, IReadOnlyList<TensorToWrite> tensors, long maxShardBytes = DefaultMaxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive");
        Directory.CreateDirectory(modelDir);

        var shards = new List<List<TensorToWrite>> { new() };
        long shardBytes = 0;
        foreach (TensorToWrite t in tensors)
        {
            if (shardBytes > 0 && shardBytes + t.Data.Length > maxShardBytes)
            {
                shards.Add([]);
                shardBytes = 0;
            }
            shards[^1].Add(t);
            shardBytes += t.Data.Length;
        }

        string index = Path.Combine(modelDir, SafeTensorsCheckpoint.IndexFileName);
        string single = Path.Combine(modelDir, SafeTensorsCheckpoint.SingleFileName);
        if (shards.Count == 1)
        {
            SafeTensorsWriter.Write(single, shards[0], metadata);
            File.Delete(index); // a stale index would make readers look for old shards
            return;
        }

        var weightMap = new JsonObject();
        for (int k = 0; k < shards.Count; k++)
        {
            string name = $"model-{k + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsWriter.Write(Path.Combine(modelDir, name), shards[k], metadata);
            foreach (TensorToWrite t in shards[k]) weightMap[t.Name] = name;
        }
        var root = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => (long)t.Data.Length) },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(index, root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Delete(single); // the index is the truth now; a leftover single file would shadow it
    }
}
