using System.Net;
using System.Text.Json.Nodes;
using MatMulFree.Grains.Serving;
using MatMulFree.Testing;

namespace MatMulFree.Serving.Tests;

/// <summary>Owner ids with sessions in Azure Storage: the same key owns its sessions after a restart, and sessions stored under the old unkeyed ids are not stranded.</summary>
[Collection(AzuriteFixture.Collection)]
public sealed class SessionOwnerStorageTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task SessionOwner_AfterARestart_TheSameKeyStillOwnsItsSession()
    {
        string id;
        await using (var first = await HttpAccessTests.StartAsync(azurite.ConnectionString))
        {
            var created = await HttpAccessTests.SendAsync(first, HttpMethod.Post, "/v1/sessions", json: """{"model":"tiny"}""");
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        }

        await using var second = await HttpAccessTests.StartAsync(azurite.ConnectionString);

        Assert.Equal(HttpStatusCode.OK, (await HttpAccessTests.SendAsync(second, HttpMethod.Get, $"/v1/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAccessTests.SendAsync(second, HttpMethod.Get, $"/v1/sessions/{id}", key: HttpAccessTests.KeyB)).StatusCode);
    }

    [Fact]
    public async Task SessionOwner_StoredUnderTheUnkeyedId_IsAdoptedByItsKeyAtStart()
    {
        string id = $"sess-{Guid.NewGuid():N}";
        await using (var first = await HttpAccessTests.StartAsync(azurite.ConnectionString))
            await first.Grains.GetGrain<ISessionGrain>(id).CreateAsync(new SessionSpec("tiny", HttpAccessTests.UnkeyedOwnerOf(HttpAccessTests.KeyA), SamplingSettings.Greedy));

        await using var second = await HttpAccessTests.StartAsync(azurite.ConnectionString);
        var got = await HttpAccessTests.SendAsync(second, HttpMethod.Get, $"/v1/sessions/{id}");
        string listed = await (await HttpAccessTests.SendAsync(second, HttpMethod.Get, "/v1/sessions")).Content.ReadAsStringAsync();
        var other = await HttpAccessTests.SendAsync(second, HttpMethod.Get, $"/v1/sessions/{id}", key: HttpAccessTests.KeyB);

        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        Assert.Contains(id, listed);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }
}
