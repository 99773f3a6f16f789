using MatMulFree.Core.SafeTensors;
using MatMulFree.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MatMulFree.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) with two parameter groups, decayed and not (see
/// <see cref="ParameterGroups"/>), written out rather than taken from TorchSharp's optimizer so its
/// state is plain named tensors: a checkpoint stores them as safetensors and a resume restores
/// them exactly, and every replica applies the very same arithmetic to the same reduced gradient.
/// The caller owns the thread: every call must come from the thread that owns the model.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<(string Name, Parameter Parameter)> parameters;
    private readonly Tensor[] firstMoments;  // m, same shapes as the parameters
    private readonly Tensor[] secondMoments; // v
    private readonly bool[] decayed;

    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, AdamWSettings settings)
    {
        this.parameters = parameters.ToList();
        Settings = settings;
        firstMoments = this.parameters.Select(p => zeros_like(p.Parameter).DetachFromDisposeScope()).ToArray();
        secondMoments = this.parameters.Select(p => zeros_like(p.Parameter).DetachFromDisposeScope()).ToArray();
        decayed = this.parameters.Select(p => ParameterGroups.IsDecayed(p.Name)).ToArray();
    }

    public AdamWSettings Settings { get; }

    /// <summary>Optimizer steps taken so far (bias correction uses it).</summary>
    public long StepCount { get; private set; }

    /// <summary>One update of every parameter from its <c>.grad</c> at learning rate <paramref name="rate"/>.</summary>
    public void Step(double rate)
    {
        StepCount++;
        var (b1, b2) = (Settings.Beta1, Settings.Beta2);
        double correction1 = 1 - Math.Pow(b1, StepCount);
        double correction2 = Math.Sqrt(1 - Math.Pow(b2, StepCount));
        // Every number as a Scalar disposed only after the loop: see TorchScalars for why none may be a temporary.
        using Scalar decay = (1 - rate * Settings.WeightDecay).ToScalar(), beta1 = b1.ToScalar(), beta2 = b2.ToScalar();
        using Scalar oneMinusBeta1 = (1 - b1).ToScalar(), oneMinusBeta2 = (1 - b2).ToScalar();
        using Scalar secondCorrection = correction2.ToScalar(), epsilon = Settings.Epsilon.ToScalar(), stepSize = (-rate / correction1).ToScalar();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < parameters.Count; i++)
        {
            Parameter p = parameters[i].Parameter;
            using Tensor? grad = p.grad;
            if (grad is null) continue;
            if (decayed[i] && Settings.WeightDecay > 0)
                p.mul_(decay);
            firstMoments[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            secondMoments[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            var denominator = secondMoments[i].sqrt().div_(secondCorrection).add_(epsilon, TorchScalars.One);
            p.addcdiv_(firstMoments[i], denominator, value: stepSize);
            scope.DisposeEverything();
        }
    }

    /// <summary>The moments as safetensors entries (<c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>), fp32.</summary>
    public IEnumerable<TensorToWrite> StateTensors()
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            long[] shape = parameters[i].Parameter.shape;
            yield return TensorToWrite.Float32(FirstMomentName(parameters[i].Name), shape, firstMoments[i].data<float>().ToArray());
            yield return TensorToWrite.Float32(SecondMomentName(parameters[i].Name), shape, secondMoments[i].data<float>().ToArray());
        }
    }

    /// <summary>Restores the moments and the step count saved by <see cref="StateTensors"/>.</summary>
    public void LoadState(ITensorSource source, long stepCount)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            long[] shape = parameters[i].Parameter.shape;
            using var m = tensor(source.ReadFloat32(FirstMomentName(parameters[i].Name), shape), shape);
            using var v = tensor(source.ReadFloat32(SecondMomentName(parameters[i].Name), shape), shape);
            firstMoments[i].copy_(m);
            secondMoments[i].copy_(v);
        }
        StepCount = stepCount;
    }

    public static string FirstMomentName(string parameter) => "exp_avg." + parameter;
    public static string SecondMomentName(string parameter) => "exp_avg_sq." + parameter;

    public void Dispose()
    {
        foreach (Tensor t in firstMoments) t.Dispose();
        foreach (Tensor t in secondMoments) t.Dispose();
    }
}
