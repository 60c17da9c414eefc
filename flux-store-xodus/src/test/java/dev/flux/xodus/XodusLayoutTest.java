package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Cursor;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Environments;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layout versions: what a new directory gets, an old one keeps, and a newer one is refused with. */
class XodusLayoutTest {
    @TempDir
    Path directory;

    @Test
    void aNewDirectoryWritesNumbersInKeysFourBitsToAByteSortedAsTheNumbers() {
        List<EventData> events = new ArrayList<>();
        for (int i = 0; i < 300; i++) {     // past 255 and 256: a whole-byte and a half-byte boundary
            events.add(event("credited"));
        }
        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertFormat(store, 2);
            store.append("Account-1", ExpectedVersion.NO_STREAM, events.subList(0, 150));
            store.append("Other-1", ExpectedVersion.NO_STREAM, List.of(event("opened")));
            store.append("Account-1", 149, events.subList(150, 300));

            List<RecordedEvent> log = store.readAll(0, 1000);
            assertEquals(301, log.size());
            for (int i = 0; i < log.size(); i++) {
                assertEquals(i + 1, log.get(i).position());
            }
            assertEquals(List.of(258L, 259L), store.readAll(257, 2).stream().map(RecordedEvent::position).toList());
            List<RecordedEvent> stream = store.readStream("Account-1", 255, 3);
            assertEquals(List.of(255L, 256L, 257L), stream.stream().map(RecordedEvent::version).toList());
            assertEquals(events.get(256).eventId(), stream.get(1).eventId());
            assertEquals(List.of(151L), store.readCategory("Other", 0, 10).stream().map(RecordedEvent::position).toList());
            assertEquals(150, store.readCategory("Account", 151, 1000).size());
            assertEquals(300, store.readCategory("Account", 0, 1000).size());
            assertEquals(258L, store.readEvent(events.get(256).eventId()).orElseThrow().position());
            assertEquals(299, store.streamVersion("Account-1"));
        }
        Environment environment = Environments.newInstance(directory.toFile());
        try {
            Layout layout = Layout.open(environment, directory);
            List<Integer> keyLengths = environment.computeInReadonlyTransaction(txn -> {
                List<Integer> lengths = new ArrayList<>();
                try (Cursor cursor = layout.events.openCursor(txn)) {
                    while (cursor.getNext()) {
                        ByteIterable key = cursor.getKey();
                        lengths.add(key.getLength());
                        byte[] bytes = key.getBytesUnsafe();
                        for (int i = 0; i < key.getLength(); i++) {
                            assertTrue(bytes[i] >= 0 && bytes[i] < 16, "four bits to a byte");
                        }
                    }
                }
                return lengths;
            });
            assertEquals(301, keyLengths.size());
            assertTrue(keyLengths.stream().allMatch(length -> length == 16), "16 bytes to a position");
        } finally {
            environment.close();
        }
    }

    @Test
    void aDirectoryOfTheFirstLayoutKeepsIt() {
        Environment environment = Environments.newInstance(directory.toFile());
        try {
            Layout.open(environment, directory, 1);
        } finally {
            environment.close();
        }
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event("opened"), event("credited")));
        }
        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertFormat(store, 1);
            assertEquals(2, store.readStream("Account-1", 0, 10).size());
            assertEquals(0, store.append("Other-1", ExpectedVersion.NO_STREAM, List.of(event("opened"))));
            assertEquals(3, store.readAll(0, 10).size());
        }
    }

    @Test
    void aLayoutNewerThanThisFluxIsRefusedByName() {
        Environment environment = Environments.newInstance(directory.toFile());
        try {
            Layout.open(environment, directory, Layout.FORMAT + 1);
        } finally {
            environment.close();
        }

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

        assertTrue(refused.getMessage().contains("layout version " + (Layout.FORMAT + 1)), refused.getMessage());
        assertTrue(refused.getMessage().contains("reads versions 1 to " + Layout.FORMAT), refused.getMessage());
        assertTrue(refused.getMessage().contains(directory.toString()), refused.getMessage());
    }

    static void assertFormat(XodusEventStore store, long format) {
        assertEquals(format, store.layoutVersion());
    }

    private static EventData event(String type) {
        return EventData.of(type, ("{\"type\":\"" + type + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
    }
}
