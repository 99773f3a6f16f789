using System.Text.Json;
using System.Text.Json.Nodes;

namespace MatMulFree.Core;

/// <summary>
/// The architecture of one MatMul-free model, read from a Hugging Face <c>config.json</c>
/// (<c>model_type: "hgrn_bit"</c>). Unknown keys are ignored, as Hugging Face does; a missing
/// required key, a value of the wrong type, a value this model cannot honour (<c>hidden_act</c>
/// other than swish) or sizes too large for a tensor are errors that name the key.
/// </summary>
public sealed record ModelConfig
{
    public const string ModelType = "hgrn_bit";

    /// <summary>Tokenizer size V (32000 for the released models).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Model width d.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of blocks L.</summary>
    public required int NumHiddenLayers { get; init; }

    /// <summary>Only a reshape in the authors' code: the recurrence is element-wise.</summary>
    public int NumHeads { get; init; } = 1;

    /// <summary>Token-mixer width is d·e.</summary>
    public int ExpandRatio { get; init; } = 1;

    /// <summary>MLP size factor used when <see cref="IntermediateSize"/> is not given.</summary>
    public int HiddenRatio { get; init; } = 4;

    /// <summary>MLP width l; resolved from <see cref="HiddenRatio"/> when the config says null.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Eps of the block norms, the final norm and the output-gate norm.</summary>
    public float RmsNormEps { get; init; } = 1e-6f;

    /// <summary>Forget-gate lower bounds (a learned [L, d] parameter) are used.</summary>
    public bool UseLowerBound { get; init; } = true;

    /// <summary>Always false here: the LM head is its own ternary layer.</summary>
    public bool TieWordEmbeddings { get; init; }

    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;

    /// <summary>Width of the recurrent state per layer, d·e.</summary>
    public int MixerWidth => HiddenSize * ExpandRatio;

    /// <summary>The MLP width Hugging Face's HGRNBitConfig derives when intermediate_size is null.</summary>
    public static int DefaultIntermediateSize(int hiddenSize, int hiddenRatio) => checked((int)DerivedIntermediateSize(hiddenSize, hiddenRatio));

    // In 128 bits: hidden_size × hidden_ratio × 2 overflows 32 bits (and 64) long before a user notices.
    private static Int128 DerivedIntermediateSize(long hiddenSize, long hiddenRatio) =>
        256 * (((Int128)hiddenSize * hiddenRatio * 2 / 3 + 255) / 256);

    /// <summary>
    /// Every weight matrix must fit one array (the engine and the trainer read a tensor into one):
    /// the sizes are multiplied in 128 bits, so a huge value is named, not wrapped into a small
    /// or negative one that fails later under another key's name.
    /// </summary>
    private static void CheckSizes(string source, long vocab, long hidden, long layers, long expand, bool lowerBound, long? intermediate, long hiddenRatio)
    {
        void Fit(string tensor, string product, params long[] factors)
        {
            Int128 elements = 1;
            foreach (long f in factors) elements *= f;
            if (elements > Array.MaxLength)
                throw new ModelConfigException(
                    $"{source}: {product} is too large: {tensor} would have {elements} elements, more than the {Array.MaxLength} one tensor can hold");
        }

        Fit(ParameterNames.Embeddings, $"vocab_size {vocab} × hidden_size {hidden}", vocab, hidden);
        if (lowerBound)
            Fit(ParameterNames.LowerBounds, $"num_hidden_layers {layers} × hidden_size {hidden}", layers, hidden);
        Fit("attn.i_proj.weight", $"hidden_size {hidden} × expand_ratio {expand} × hidden_size {hidden}", hidden, expand, hidden);
        Int128 width = intermediate ?? DerivedIntermediateSize(hidden, hiddenRatio);
        string widthText = intermediate is null
            ? $"intermediate_size {width} (from hidden_size {hidden} × hidden_ratio {hiddenRatio})"
            : $"intermediate_size {width}";
        if (width > Array.MaxLength)
            throw new ModelConfigException($"{source}: {widthText} is too large: more than the {Array.MaxLength} elements one tensor can hold");
        Fit("mlp.gate_proj.weight", $"2 × {widthText} × hidden_size {hidden}", 2, (long)width, hidden);
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new ModelConfigException($"{path}: config file not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <param name="source">Where the text came from, for error messages.</param>
    public static ModelConfig Parse(string json, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, AllowDuplicateProperties = false }) as JsonObject
                ?? throw new ModelConfigException($"{source}: the config must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{source}: not valid JSON ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            // A key that escapes a lone surrogate ("\uDC00") fails the duplicate check's decoding.
            throw new ModelConfigException($"{source}: not valid JSON text ({e.Message})");
        }

        try
        {
            return Read(new ConfigReader(root, source), source);
        }
        catch (InvalidOperationException e)
        {
            // Backstop for any other string that escapes a lone surrogate, met when first read.
            throw new ModelConfigException($"{source}: not valid JSON text ({e.Message})");
        }
    }

    private static ModelConfig Read(ConfigReader reader, string source)
    {
        string modelType = reader.RequiredString("model_type");
        if (modelType != ModelType)
            throw new ModelConfigException($"{source}: model_type is \"{modelType}\", expected \"{ModelType}\"");
        if (reader.Bool("use_short_conv", false))
            throw new ModelConfigException($"{source}: use_short_conv=true is not supported (the released MatMul-free models do not use it)");
        if (reader.Bool("tie_word_embeddings", false))
            throw new ModelConfigException($"{source}: tie_word_embeddings=true is not supported (the LM head is its own ternary layer)");
        // The GLU is always SwiGLU here (as in the authors' HGRNBitMLP, whatever the key says) and the
        // recurrence is the same whichever kernel computes it: other values would describe another model.
        reader.OneOf("hidden_act", "swish", ["swish", "silu"]);
        reader.OneOf("attn_mode", "fused_recurrent", ["fused_recurrent", "chunk"]);

        int vocab = reader.RequiredPositiveInt("vocab_size");
        int hidden = reader.RequiredPositiveInt("hidden_size");
        int layers = reader.RequiredPositiveInt("num_hidden_layers");
        int expand = reader.PositiveInt("expand_ratio", 1);
        int hiddenRatio = reader.PositiveInt("hidden_ratio", 4);
        int? intermediate = reader.OptionalPositiveInt("intermediate_size");
        bool lowerBound = reader.Bool("use_lower_bound", true);
        CheckSizes(source, vocab, hidden, layers, expand, lowerBound, intermediate, hiddenRatio);

        var config = new ModelConfig
        {
            VocabSize = vocab,
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            NumHeads = reader.PositiveInt("num_heads", 1),
            ExpandRatio = expand,
            HiddenRatio = hiddenRatio,
            IntermediateSize = intermediate ?? DefaultIntermediateSize(hidden, hiddenRatio),
            RmsNormEps = reader.PositiveFloat("rms_norm_eps", 1e-6f),
            UseLowerBound = lowerBound,
            BosTokenId = reader.NonNegativeInt("bos_token_id", 1),
            EosTokenId = reader.NonNegativeInt("eos_token_id", 2),
        };
        config.Validate(source);
        return config;
    }

    /// <summary>Checks the cross-field rules; <see cref="Parse"/> calls it, presets pass it.</summary>
    public void Validate(string source)
    {
        CheckSizes(source, VocabSize, HiddenSize, NumHiddenLayers, ExpandRatio, UseLowerBound, IntermediateSize, HiddenRatio);
        if (MixerWidth % NumHeads != 0)
            throw new ModelConfigException($"{source}: num_heads ({NumHeads}) must divide hidden_size·expand_ratio ({MixerWidth})");
        if (BosTokenId >= VocabSize)
            throw new ModelConfigException($"{source}: bos_token_id ({BosTokenId}) must be below vocab_size ({VocabSize})");
        if (EosTokenId >= VocabSize)
            throw new ModelConfigException($"{source}: eos_token_id ({EosTokenId}) must be below vocab_size ({VocabSize})");
    }

    /// <summary>The config as Hugging Face <c>config.json</c> text that the authors' code loads.</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["model_type"] = ModelType,
            ["architectures"] = new JsonArray("HGRNBitForCausalLM"),
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_heads"] = NumHeads,
            ["expand_ratio"] = ExpandRatio,
            ["hidden_ratio"] = HiddenRatio,
            ["intermediate_size"] = IntermediateSize,
            ["rms_norm_eps"] = RmsNormEps,
            ["use_lower_bound"] = UseLowerBound,
            ["use_short_conv"] = false,
            ["attn_mode"] = "fused_recurrent",
            ["hidden_act"] = "swish",
            ["tie_word_embeddings"] = false,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// Named shapes: <c>tiny</c> (byte-level, small enough to learn something in minutes on a
    /// laptop: 256 byte ids plus BOS/EOS/PAD and one spare) and the paper's three sizes.
    /// </summary>
    public static ModelConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => new ModelConfig
        {
            VocabSize = 260, HiddenSize = 256, NumHiddenLayers = 4,
            IntermediateSize = DefaultIntermediateSize(256, 4), BosTokenId = 256, EosTokenId = 257,
        },
        "370m" => PaperShape(1024, 24),
        "1.3b" => PaperShape(2048, 24),
        "2.7b" => PaperShape(2560, 32),
        _ => throw new ModelConfigException($"unknown model preset \"{name}\" (known: {string.Join(", ", PresetNames)})"),
    };

    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "370m", "1.3b", "2.7b"];

    private static ModelConfig PaperShape(int hidden, int layers) => new()
    {
        VocabSize = 32000, HiddenSize = hidden, NumHiddenLayers = layers,
        IntermediateSize = DefaultIntermediateSize(hidden, 4),
    };
}
