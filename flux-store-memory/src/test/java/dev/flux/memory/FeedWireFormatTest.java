package dev.flux.memory;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What goes into the feed's JSON and what {@link HttpEventSource} makes of it again. */
class FeedWireFormatTest extends FeedTestBase {

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everyBodyIsServedAsTheSameJsonValueWrittenCompactlyAndTheHttpSourceGetsItAndTheEventsTextExactly() throws Exception {
        List<String> bodies = List.of(
                "{ \"s\" : \"a\\/b \\u00e9 \\u0001 \\t \\ud83d\\ude00 \\u2028 \u00e9\ud83d\ude00 \\\" \\\\\", \"s\" : null }",
                "{\"lone\":\"\\ud800x\"}", "[1, [2, {}], \"three\"]", "42", "\"text\"", "true", "null", "{}");
        Map<String, String> metadata = Map.of("k/\u00e9", "v\u0001\"\\/\ud83d\ude00", "", "empty key");
        for (int i = 0; i < bodies.size(); i++) {
            store.append("Text-" + i, ExpectedVersion.NO_STREAM, List.of(EventData.of("Text",
                    bodies.get(i).getBytes(StandardCharsets.UTF_8), i == 0 ? metadata : Map.of())));
        }
        FeedServer feed = feed(FeedServer.builder(store));

        JsonNode page = JSON.readTree(get(URI.create(feed.uri() + "?include=data")).body());
        List<RecordedEvent> remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 100);
        List<RecordedEvent> local = store.readAll(0, 100);

        assertEquals(bodies.size(), remote.size());
        for (int i = 0; i < bodies.size(); i++) {
            RecordedEvent there = remote.get(i);
            RecordedEvent here = local.get(i);
            JsonNode value = JSON.readTree(bodies.get(i));
            assertEquals(value, page.get("events").get(i).get("data"), bodies.get(i));
            assertEquals(value, JSON.readTree(there.data()), bodies.get(i));
            if (i > 0) {    // the first repeats a key, which a tree keeps once
                assertArrayEquals(JSON.writeValueAsBytes(value), there.data(), "compact");
            }
            assertEquals(here.metadata(), there.metadata());
            assertEquals(here.eventId(), there.eventId());
            assertEquals(here.recordedAt(), there.recordedAt(), "to the nanosecond");
            assertEquals(here.streamId(), there.streamId());
        }
        assertEquals("{\"s\":\"a/b \u00e9 \\u0001 \\t \\uD83D\\uDE00 \u2028 \u00e9\\uD83D\\uDE00 \\\" \\\\\",\"s\":null}",
                new String(remote.get(0).data(), StandardCharsets.UTF_8), "compact, keys in their order and repeated, as the README says");
    }

    @Test
    void aBodyWithStringsAndNamesLongerThanJacksonsDefaultBoundsIsServedAndReachesTheHttpSourceWhole() throws Exception {
        // Jackson reads at most 20,000,000 characters a string and 50,000 a name unless told otherwise: a serializer
        // whose mapper reads longer ones stores such events, and the feed serves what is stored.
        String text = "x".repeat(20_000_001);
        String name = "k".repeat(50_001);
        byte[] body = ("{\"text\":\"" + text + "\",\"" + name + "\":1}").getBytes(StandardCharsets.UTF_8);
        EventData stored = EventData.of("Document", body, Map.of(name, "v"));
        store.append("Document-1", ExpectedVersion.NO_STREAM, List.of(stored));
        FeedServer feed = feed(FeedServer.builder(store));

        HttpResponse<String> one = get(URI.create(feed.uri() + "/" + stored.eventId()));
        RecordedEvent remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).get(0);

        assertEquals(200, one.statusCode(), () -> one.body().substring(0, Math.min(500, one.body().length())));
        assertTrue(one.body().contains("\"data\":" + new String(body, StandardCharsets.UTF_8) + "}"), "the body as stored");
        assertArrayEquals(body, remote.data());
        assertEquals(Map.of(name, "v"), remote.metadata());
    }
}
