using System.Text.Json;
using Google.Protobuf;

namespace MatMulFree.Core.Tokenization;

/// <summary>
/// Rebuilds the SentencePiece model proto of a Llama/Mistral-style <c>tokenizer.json</c> (BPE with
/// byte fallback, as Hugging Face converts <c>tokenizer.model</c>), so one SentencePiece engine
/// serves both files. SentencePiece BPE merges the adjacent pair whose result has the highest
/// piece score; Hugging Face merges the pair of lowest merge rank — so a piece's score is minus
/// the rank of the first merge that produces it, which orders the merges the same way.
/// </summary>
public static class HuggingFaceTokenizerJson
{
    // sentencepiece_model.proto: ModelProto.SentencePiece.Type
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Byte = 6;

    public static byte[] ToSentencePieceModel(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return Convert(doc.RootElement, path);
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{path}: not valid JSON ({e.Message})");
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new TokenizerException($"{path}: not a Llama/Mistral-style BPE tokenizer.json ({e.Message})");
        }
    }

    private static byte[] Convert(JsonElement root, string path)
    {
        JsonElement model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
            throw new TokenizerException($"{path}: model.type must be \"BPE\" (a SentencePiece BPE vocabulary)");
        if (!model.TryGetProperty("byte_fallback", out JsonElement fallback) || !fallback.GetBoolean())
            throw new TokenizerException($"{path}: model.byte_fallback must be true (Llama/Mistral style)");

        var pieces = new SortedDictionary<int, string>();
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
            pieces[entry.Value.GetInt32()] = entry.Name;
        var special = new Dictionary<string, bool>();
        if (root.TryGetProperty("added_tokens", out JsonElement added))
        {
            foreach (JsonElement token in added.EnumerateArray())
            {
                string content = token.GetProperty("content").GetString()!;
                pieces[token.GetProperty("id").GetInt32()] = content;
                special[content] = token.TryGetProperty("special", out JsonElement s) && s.GetBoolean();
            }
        }
        if (pieces.Count == 0 || pieces.Keys.First() != 0 || pieces.Keys.Last() != pieces.Count - 1)
            throw new TokenizerException($"{path}: token ids must run from 0 without gaps");

        var firstRank = new Dictionary<string, int>(StringComparer.Ordinal);
        int rank = 0;
        foreach (JsonElement merge in model.GetProperty("merges").EnumerateArray())
        {
            string merged = merge.ValueKind == JsonValueKind.Array
                ? merge[0].GetString() + merge[1].GetString()
                : merge.GetString()!.Replace(" ", "");
            firstRank.TryAdd(merged, rank++);
        }

        string unk = model.TryGetProperty("unk_token", out JsonElement u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "<unk>";
        var proto = new MemoryStream();
        var output = new CodedOutputStream(proto);
        int unkId = -1, bosId = -1, eosId = -1;
        foreach (var (id, piece) in pieces)
        {
            int type = piece == unk ? Unknown
                : special.TryGetValue(piece, out bool isSpecial) ? (isSpecial ? Control : UserDefined)
                : IsBytePiece(piece) ? Byte
                : Normal;
            if (piece == unk) unkId = id;
            if (piece == "<s>") bosId = id;
            if (piece == "</s>") eosId = id;
            float score = type != Normal ? 0f
                : firstRank.TryGetValue(piece, out int r) ? -r
                : -(firstRank.Count + id); // single characters: never a merge result
            WriteMessage(output, 1, o =>
            {
                o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(piece);
                o.WriteTag(2, WireFormat.WireType.Fixed32); o.WriteFloat(score);
                o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum(type);
            });
        }

        WriteMessage(output, 2, o => // TrainerSpec
        {
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum(2); // model_type = BPE
            o.WriteTag(4, WireFormat.WireType.Varint); o.WriteInt32(pieces.Count);
            o.WriteTag(35, WireFormat.WireType.Varint); o.WriteBool(true); // byte_fallback
            o.WriteTag(40, WireFormat.WireType.Varint); o.WriteInt32(unkId);
            o.WriteTag(41, WireFormat.WireType.Varint); o.WriteInt32(bosId);
            o.WriteTag(42, WireFormat.WireType.Varint); o.WriteInt32(eosId);
            o.WriteTag(43, WireFormat.WireType.Varint); o.WriteInt32(-1); // pad_id
        });
        WriteMessage(output, 3, o => // NormalizerSpec
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString("identity");
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteBool(AddsDummyPrefix(root));
            o.WriteTag(4, WireFormat.WireType.Varint); o.WriteBool(false); // remove_extra_whitespaces
            o.WriteTag(5, WireFormat.WireType.Varint); o.WriteBool(true);  // escape_whitespaces
        });
        output.Flush();
        return proto.ToArray();
    }

    private static bool IsBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>';

    // Llama's converter writes a Prepend("▁") normalizer; newer ones a Metaspace pre-tokenizer.
    private static bool AddsDummyPrefix(JsonElement root)
    {
        string normalizer = root.TryGetProperty("normalizer", out JsonElement n) ? n.GetRawText() : "";
        string preTokenizer = root.TryGetProperty("pre_tokenizer", out JsonElement p) ? p.GetRawText() : "";
        return normalizer.Contains("\"Prepend\"", StringComparison.Ordinal)
            || (preTokenizer.Contains("\"Metaspace\"", StringComparison.Ordinal) && !preTokenizer.Contains("\"never\"", StringComparison.Ordinal));
    }

    private static void WriteMessage(CodedOutputStream output, int field, Action<CodedOutputStream> write)
    {
        var buffer = new MemoryStream();
        var inner = new CodedOutputStream(buffer);
        write(inner);
        inner.Flush();
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(buffer.ToArray()));
    }
}
