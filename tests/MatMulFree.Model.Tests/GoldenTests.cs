using MatMulFree.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

/// <summary>The oracle: the authors' own code on four small random models (tests/data/golden).</summary>
public sealed class GoldenTests
{
    public static TheoryData<string> Sets => new() { "tiny", "small", "long", "bf16" };

    public static TheoryData<string, BitLinearMode> SetsAndModes
    {
        get
        {
            var data = new TheoryData<string, BitLinearMode>();
            foreach (string set in new[] { "tiny", "small", "long", "bf16" })
                foreach (BitLinearMode mode in Enum.GetValues<BitLinearMode>())
                    data.Add(set, mode);
            return data;
        }
    }

    [Theory, MemberData(nameof(SetsAndModes))]
    public void MatMulFreeLM_Forward_MatchesGoldenLogitsAndLoss(string set, BitLinearMode mode)
    {
        using var golden = GoldenSet.Open(set);
        using var model = golden.LoadModel(mode);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = golden.InputIds();
        var logits = model.forward(ids);
        Tolerances.LogitsClose(golden.Reference("logits"), logits, $"{set} logits");

        double loss = MatMulFreeLM.NextTokenLoss(logits, ids).item<float>();
        double expected = golden.Reference("loss").item<float>();
        Assert.True(Math.Abs(loss - expected) <= Tolerances.Loss, $"{set}: loss {loss} vs golden {expected}");
    }

    [Theory, MemberData(nameof(Sets))]
    public void MatMulFreeLM_Forward_MatchesGoldenHiddenStates(string set)
    {
        using var golden = GoldenSet.Open(set);
        using var model = golden.LoadModel();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = new List<Tensor>();
        model.Forward(golden.InputIds(), null, hidden);

        Assert.Equal(golden.Config.NumHiddenLayers + 1, hidden.Count);
        for (int k = 0; k < hidden.Count; k++)
        {
            double error = Tolerances.RelativeError(golden.Reference($"hidden_states.{k}"), hidden[k]);
            Assert.True(error <= Tolerances.HiddenRelative, $"{set}: hidden_states.{k} ‖Δ‖/‖ref‖ = {error:G4}");
        }
    }

    [Theory, MemberData(nameof(SetsAndModes))]
    public void MatMulFreeLM_Backward_MatchesGoldenGradientsOfEveryParameter(string set, BitLinearMode mode)
    {
        using var golden = GoldenSet.Open(set);
        using var model = golden.LoadModel(mode);
        using var scope = NewDisposeScope();
        model.Loss(golden.InputIds()).backward();

        var checkedNames = new List<string>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.True(golden.Has($"grad.{name}"), $"{set}: no golden gradient for {name}");
            Assert.NotNull(parameter.grad);
            double error = Tolerances.RelativeError(golden.Reference($"grad.{name}"), parameter.grad!);
            Assert.True(error <= Tolerances.GradientRelative, $"{set} ({mode}): grad of {name} ‖Δ‖/‖ref‖ = {error:G4}");
            checkedNames.Add(name);
        }
        Assert.Equal(ParameterNames.All(golden.Config).Select(p => p.Name).Order(), checkedNames.Order());
    }

    [Theory, MemberData(nameof(Sets))]
    public void MatMulFreeLM_Step_TokenByTokenMatchesParallelGoldenLogits(string set)
    {
        using var golden = GoldenSet.Open(set);
        using var model = golden.LoadModel();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = golden.InputIds();                 // (B, T)
        using var state = TorchRecurrentState.Zeros(golden.Config, ids.shape[0]);
        var steps = new List<Tensor>();
        for (long t = 0; t < ids.shape[1]; t++)
            steps.Add(model.Step(ids.select(1, t), state)); // (B, V)
        var logits = stack(steps, 1);                     // (B, T, V)
        Tolerances.LogitsClose(golden.Reference("logits"), logits, $"{set} token-by-token logits");
    }
}
