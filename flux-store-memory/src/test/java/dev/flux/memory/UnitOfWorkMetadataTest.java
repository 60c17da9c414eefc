package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.bus.EventContext;
import dev.flux.serialization.SchemaVersion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Metadata given to a whole save ({@code aggregate.save(metadata)}, {@code repository.update(id, metadata, action)}):
 * recorded beside every event saved, under each event's own.
 */
class UnitOfWorkMetadataTest {

    record Credited(long amount) {}

    @SchemaVersion(2)
    record Noted(String note) {}

    public static class Account extends Aggregate {
        void credit(long amount) {
            update(new Credited(amount));
        }

        void credit(long amount, Map<String, String> metadata) {
            update(new Credited(amount), metadata);
        }

        void note(String note) {
            update(new Noted(note));
        }

        private void handleCredited(Credited e) {
        }

        private void handleNoted(Noted e) {
        }
    }

    private static final UUID CORRELATION = UUID.fromString("0190a1b2-0000-7000-8000-000000000001");
    private static final UUID COMMAND = UUID.fromString("0190a1b2-0000-7000-8000-000000000002");
    private static final Map<String, String> CAUSED = Metadata.causedBy(CORRELATION, COMMAND);

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final Repository<Account> accounts = Repository.of(Account.class, store);

    @AfterEach
    void close() {
        store.close();
    }

    private List<Map<String, String>> storedMetadata(String streamId) {
        List<Map<String, String>> metadata = new ArrayList<>();
        for (RecordedEvent event : store.readStream(streamId, 0, 100)) {
            metadata.add(event.metadata());
        }
        return metadata;
    }

    private static Map<String, String> with(Map<String, String> base, String key, String value) {
        Map<String, String> more = new HashMap<>(base);
        more.put(key, value);
        return more;
    }

    @Test
    void everyEventOfASaveRecordsItUnderItsOwnEntries() {
        Account account = accounts.load("1");
        account.credit(1);
        account.credit(2, Map.of("by", "teller", Metadata.CORRELATION_ID, "its-own"));
        account.note("checked");

        account.save(CAUSED);

        assertEquals(List.of(
                CAUSED,
                Map.of("by", "teller", Metadata.CORRELATION_ID, "its-own", Metadata.CAUSATION_ID, COMMAND.toString()),
                with(CAUSED, Metadata.SCHEMA_VERSION, "2")), storedMetadata("Account-1"),
                "the event's own correlation id wins; the class's schema version is its own");
        account.credit(3);
        account.save();
        assertEquals(Map.of(), storedMetadata("Account-1").get(3), "a later save records it no more");
    }

    @Test
    void anUpdateRecordsItOnEveryEventTheActionAppliesAndSavesItself() {
        accounts.update("1", CAUSED, a -> {
            a.credit(1);
            a.save();           // the action saves itself
            a.credit(2, Map.of("by", "teller"));
        });

        assertEquals(List.of(CAUSED, with(CAUSED, "by", "teller")), storedMetadata("Account-1"));
        Account returned = accounts.update("1", CAUSED, a -> a.credit(3));
        returned.credit(4);
        returned.save();
        accounts.update("1", Map.of(), a -> a.credit(5));
        assertEquals(List.of(CAUSED, Map.of(), Map.of()), storedMetadata("Account-1").subList(2, 5),
                "a later save of the aggregate update returned records it no more; none given, none recorded");
    }

    @Test
    void anUpdateRetriedOnAConflictRecordsItOnTheAttemptThatSaves() {
        accounts.update("1", a -> a.credit(1));
        int[] attempts = {0};
        accounts.update("1", CAUSED, a -> {
            if (attempts[0]++ == 0) {
                accounts.update("1", b -> b.credit(100));     // another writer gets in first: this attempt conflicts
            }
            a.credit(2);
        });

        assertEquals(2, attempts[0]);
        assertEquals(List.of(Map.of(), Map.of(), CAUSED), storedMetadata("Account-1"));
    }

    @Test
    void busListenersSeeTheMetadataAsStored() {
        Bus bus = new Bus();
        List<EventContext> seen = new ArrayList<>();
        bus.subscribeWithContext(Credited.class, (e, context) -> seen.add(context));
        Repository<Account> publishing = Repository.builder(Account.class, store).publishTo(bus).build();

        publishing.update("1", CAUSED, a -> a.credit(1, Map.of("by", "teller")));

        assertEquals(store.readStream("Account-1", 0, 1).get(0).metadata(), seen.get(0).metadata());
        assertEquals(with(CAUSED, "by", "teller"), seen.get(0).metadata());
    }

    @Test
    void metadataNoStoreCouldSaveIsRefusedAndNothingIsSaved() {
        Account account = accounts.load("1");
        account.credit(1);
        Map<String, String> withNull = new HashMap<>();
        withNull.put("by", null);

        assertTrue(assertThrows(IllegalArgumentException.class, () -> account.save(null)).getMessage()
                .startsWith("metadata must not be null"));
        IllegalArgumentException nullValue = assertThrows(IllegalArgumentException.class, () -> account.save(withNull));
        assertTrue(nullValue.getMessage().contains("the save of Account 1") && nullValue.getMessage().contains("by=null"),
                nullValue.getMessage());
        assertThrows(IllegalArgumentException.class, () -> account.save(Map.of("by", "half \uD800 a pair")));
        assertThrows(IllegalArgumentException.class, () -> accounts.update("1", null, a -> a.credit(1)));
        IllegalArgumentException inUpdate = assertThrows(IllegalArgumentException.class,
                () -> accounts.update("1", withNull, a -> a.credit(1)));
        assertTrue(inUpdate.getMessage().contains("the update of Account-1"), inUpdate.getMessage());

        assertEquals(-1, store.streamVersion("Account-1"), "nothing saved");
        assertEquals(1, account.uncommittedEvents().size(), "the aggregate as it was");
        account.save(Map.of());
        assertEquals(List.of(Map.of()), storedMetadata("Account-1"), "an empty map adds nothing");
    }
}
