using MatMulFree.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

public sealed class TrainingTests
{
    [Theory]
    [InlineData(BitLinearMode.Recompute)]
    [InlineData(BitLinearMode.Plain)]
    public void TrainingStep_AdamWOnAFixedBatch_LowersTheLoss(BitLinearMode mode)
    {
        using var model = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 0, mode);
        using var ids = randint(64, [4, 24], generator: new Generator(9)); // (B, T)
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);

        double first = TrainingStep.Run(model, optimizer, ids);
        double last = first;
        for (int step = 0; step < 15; step++)
            last = TrainingStep.Run(model, optimizer, ids);

        Assert.True(first > 3.5, $"a random model should start near ln 64 ≈ 4.16, got {first}");
        Assert.True(last < first - 0.5, $"15 AdamW steps on one batch moved the loss only from {first} to {last}");
    }

    [Fact]
    public void TrainingStep_RecomputeAndPlain_TakeTheSameSteps()
    {
        using var recompute = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 2, BitLinearMode.Recompute);
        using var plain = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 2, BitLinearMode.Plain);
        using var ids = randint(64, [2, 16], generator: new Generator(4));
        using var optimizerR = optim.AdamW(recompute.parameters(), lr: 1e-3);
        using var optimizerP = optim.AdamW(plain.parameters(), lr: 1e-3);
        for (int step = 0; step < 3; step++)
        {
            double lossR = TrainingStep.Run(recompute, optimizerR, ids);
            double lossP = TrainingStep.Run(plain, optimizerP, ids);
            Assert.True(Math.Abs(lossR - lossP) < 1e-4, $"step {step}: losses {lossR} (recompute) vs {lossP} (plain)");
        }
    }

    [Fact]
    public void ModelInitialization_CreateRandom_IsSeededAndFollowsTheReleasedRecipe()
    {
        var config = new ModelConfig { VocabSize = 512, HiddenSize = 128, NumHiddenLayers = 8, IntermediateSize = 256 };
        using var a = ModelInitialization.CreateRandom(config, seed: 42);
        using var b = ModelInitialization.CreateRandom(config, seed: 42);
        using var c = ModelInitialization.CreateRandom(config, seed: 43);
        var pa = ModelCheckpoint.ParametersByName(a);
        var pb = ModelCheckpoint.ParametersByName(b);
        var pc = ModelCheckpoint.ParametersByName(c);
        Assert.All(pa, p => Assert.True(p.Value.eq(pb[p.Key]).all().item<bool>(), $"{p.Key} differs under the same seed"));
        Assert.False(pa[ParameterNames.Embeddings].eq(pc[ParameterNames.Embeddings]).all().item<bool>());

        double Std(string name) => pa[name].std().item<float>();
        Assert.InRange(Std(ParameterNames.Embeddings), 0.019, 0.021);
        Assert.InRange(Std(ParameterNames.LmHead), 0.019, 0.021);
        Assert.InRange(Std(ParameterNames.Layer(3, "mlp.gate_proj.weight")), 0.019, 0.021);
        double residual = 0.02 / Math.Sqrt(2 * 8);
        Assert.InRange(Std(ParameterNames.Layer(3, "attn.o_proj.weight")), residual * 0.95, residual * 1.05);
        Assert.InRange(Std(ParameterNames.Layer(3, "mlp.down_proj.weight")), residual * 0.95, residual * 1.05);
        // Xavier-uniform, gain 2^-2.5: bound = gain·sqrt(6 / (fan_in + fan_out)), std = bound / sqrt 3.
        double bound = Math.Pow(2, -2.5) * Math.Sqrt(6.0 / (128 + 128));
        var f = pa[ParameterNames.Layer(3, "attn.f_proj.weight")];
        Assert.True(f.abs().max().item<float>() <= bound);
        Assert.InRange(f.std().item<float>(), bound / Math.Sqrt(3) * 0.95, bound / Math.Sqrt(3) * 1.05);
        Assert.True(pa[ParameterNames.LowerBounds].count_nonzero().item<long>() == 0);
        Assert.All(pa.Where(p => p.Key.EndsWith("norm.weight")), p => Assert.True(p.Value.eq(1).all().item<bool>(), p.Key));
    }

    [Fact]
    public void MatMulFreeLM_ForwardInWindowsCarryingState_EqualsOneWholePass()
    {
        using var golden = GoldenSet.Open("long");
        using var model = golden.LoadModel();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = golden.InputIds(); // (2, 300)
        var whole = model.forward(ids);
        using var state = TorchRecurrentState.Zeros(golden.Config, 2);
        var parts = new List<Tensor>();
        foreach (var (start, length) in new[] { (0, 100), (100, 1), (101, 150), (251, 49) })
            parts.Add(model.Forward(ids.narrow(1, start, length), state, null));
        var windowed = cat(parts, 1); // (2, 300, V)
        Tolerances.LogitsClose(whole, windowed, "windowed vs whole");
    }
}
