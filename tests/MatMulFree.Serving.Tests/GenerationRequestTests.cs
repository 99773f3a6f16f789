using MatMulFree.Grains.Serving;
using MatMulFree.Silo.Http;

namespace MatMulFree.Serving.Tests;

/// <summary>The HTTP API's sampling fields: an engine error about a flag becomes one about the body field, the rest of it intact.</summary>
public sealed class GenerationRequestTests
{
    [Theory]
    [InlineData(-1f, 0, 1f, "temperature must be a finite number ≥ 0, got -1")]
    [InlineData(1f, -3, 1f, "top_k must be ≥ 0, got -3")]
    [InlineData(1f, 0, -0.5f, "top_p must be in (0, 1], got -0.5")]
    public void Sampling_NegativeValue_NamesTheFieldAndKeepsTheMinusSign(float temperature, int topK, float topP, string expected)
    {
        var request = new GenerationRequest { Temperature = temperature, TopK = topK, TopP = topP };
        var e = Assert.Throws<ServingRequestException>(() => request.Sampling());
        Assert.Equal(expected, e.Message);
    }
}
