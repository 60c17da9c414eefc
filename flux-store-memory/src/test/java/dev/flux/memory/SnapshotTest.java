package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.serialization.SchemaVersion;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.math.BigDecimal;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class SnapshotTest {
    record Deposited(long amount, String by) { }

    record Noted(String note) { }

    public static class Ledger extends Aggregate {
        private long balance;
        private final Map<String, Long> byDepositor = new TreeMap<>();
        private List<String> notes = new ArrayList<>();
        transient int replayed;

        void deposit(long amount, String by) {
            update(new Deposited(amount, by));
        }

        void note(String note) {
            update(new Noted(note));
        }

        private void handleDeposited(Deposited e) {
            balance += e.amount();
            byDepositor.merge(e.by(), e.amount(), Long::sum);
            replayed++;
        }

        private void handleNoted(Noted e) {
            notes.add(e.note());
            replayed++;
        }

        String state() {
            return balance + " " + byDepositor + " " + notes + " @" + version();
        }
    }

    record Paid(BigDecimal amount) { }

    public static class Wallet extends Aggregate {
        private BigDecimal balance = BigDecimal.ZERO;
        transient int replayed;

        void pay(String amount) {
            update(new Paid(new BigDecimal(amount)));
        }

        private void handlePaid(Paid e) {
            balance = balance.add(e.amount());
            replayed++;
        }
    }

    record Tagged(String tag) { }

    public static class Tags extends Aggregate {
        private final Set<String> inOrderSeen = new LinkedHashSet<>();
        private final Map<String, Integer> countsByTag = new TreeMap<>();
        transient int replayed;

        void tag(String tag) {
            update(new Tagged(tag));
        }

        private void handleTagged(Tagged e) {
            inOrderSeen.add(e.tag());
            countsByTag.merge(e.tag(), 1, Integer::sum);
            replayed++;
        }
    }

    record Item(String name, int qty) { }

    record Added(Item item) { }

    public abstract static class Basket<T> extends Aggregate {
        protected final List<T> items = new ArrayList<>();
    }

    public static class Cart extends Basket<Item> {
        transient int replayed;

        void add(Item item) {
            update(new Added(item));
        }

        private void handleAdded(Added e) {
            items.add(e.item());
            replayed++;
        }
    }

    enum Colour { RED, ORANGE, YELLOW, GREEN, BLUE, INDIGO, VIOLET, BLACK }

    record Painted(Colour colour) { }

    public static class Palette extends Aggregate {
        private final Set<Colour> used = EnumSet.noneOf(Colour.class);
        transient int replayed;

        private void handlePainted(Painted e) {
            used.add(e.colour());
            replayed++;
        }
    }

    record Attributed(String key, long value) { }

    public static class Profile extends Aggregate {
        private final Map<String, Object> attributes = new HashMap<>();

        private void handleAttributed(Attributed e) {
            attributes.put(e.key(), e.value());
        }
    }

    record Coined(long amount) { }

    public static class Purse extends Aggregate {
        private long amount;
        transient int replayed;

        private void handleCoined(Coined e) {
            amount += e.amount();
            replayed++;
        }
    }

    public static class Discount {
        protected int percent;

        Discount() {
        }

        Discount(int percent) {
            this.percent = percent;
        }

        long apply(long price) {
            return price - price * percent / 100;
        }
    }

    /** A Discount with the same fields, but twice the effect. */
    public static class DoubleDiscount extends Discount {
        DoubleDiscount() {
        }

        DoubleDiscount(int percent) {
            super(percent);
        }

        @Override
        long apply(long price) {
            return price - 2 * price * percent / 100;
        }
    }

    record Discounted(int percent, boolean doubled) { }

    public static class Till extends Aggregate {
        private Discount discount;
        transient int replayed;

        private void handleDiscounted(Discounted e) {
            discount = e.doubled() ? new DoubleDiscount(e.percent()) : new Discount(e.percent());
            replayed++;
        }
    }

    record Labelled(String user, String label) { }

    /** Sorted sets the handler creates: nested in a map, and in a field that starts out null. */
    public static class Labels extends Aggregate {
        private final Map<String, Set<String>> byUser = new HashMap<>();
        private Set<String> all;

        private void handleLabelled(Labelled e) {
            byUser.computeIfAbsent(e.user(), u -> new TreeSet<>()).add(e.label());
            if (all == null) {
                all = new TreeSet<>();
            }
            all.add(e.label());
        }
    }

    record Joined(String name) { }

    /** Immutable lists, and hashed sets and maps, all of which come back as they were. */
    public static class Roster extends Aggregate {
        private List<String> names = List.of();
        private final Set<String> members = new HashSet<>();
        private Map<Character, Integer> firstLetters = Map.of();
        transient int replayed;

        private void handleJoined(Joined e) {
            List<String> more = new ArrayList<>(names);
            more.add(e.name());
            names = List.copyOf(more);
            members.add(e.name());
            Map<Character, Integer> letters = new HashMap<>(firstLetters);
            letters.merge(e.name().charAt(0), 1, Integer::sum);
            firstLetters = Map.copyOf(letters);
            replayed++;
        }
    }

    record LineAdded(String sku) { }

    record LineChanged(int qty) { }

    /** An order whose current line is also in its map of lines: a replay changes the one line through either. */
    public static class Order extends Aggregate {
        public static class OrderLine {
            String sku;
            int qty;

            OrderLine() {
            }

            OrderLine(String sku) {
                this.sku = sku;
            }
        }

        private final Map<String, OrderLine> lines = new HashMap<>();
        private OrderLine current;
        transient int replayed;

        private void handleLineAdded(LineAdded e) {
            current = new OrderLine(e.sku());
            lines.put(e.sku(), current);
            replayed++;
        }

        private void handleLineChanged(LineChanged e) {
            current.qty = e.qty();
            replayed++;
        }
    }

    /** A list that keeps the last three elements added. */
    public static class LastThree extends ArrayList<String> {
        @Override
        public boolean add(String element) {
            super.add(element);
            if (size() > 3) {
                remove(0);
            }
            return true;
        }
    }

    record Visited(String page) { }

    /** Recent pages in a list of its own class, created by the first event. */
    public static class History extends Aggregate {
        private List<String> recent;

        private void handleVisited(Visited e) {
            if (recent == null) {
                recent = new LastThree();
            }
            recent.add(e.page());
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final InMemorySnapshotStore snapshots = new InMemorySnapshotStore();
    private final JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Deposited.class, Noted.class));

    @AfterEach
    void close() {
        store.close();
    }

    private Repository<Ledger> repository(SnapshotStore snapshotStore, SnapshotPolicy policy) {
        return Repository.builder(Ledger.class, store).serializer(serializer).snapshots(snapshotStore, policy).build();
    }

    private Repository<Ledger> withoutSnapshots() {
        return Repository.builder(Ledger.class, store).serializer(serializer).build();
    }

    private <A extends Aggregate> Repository<A> snapshottingEveryEvent(Class<A> aggregateClass) {
        return Repository.builder(aggregateClass, store).serializer(serializer).snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build();
    }

    private <A extends Aggregate> Repository<A> withoutSnapshots(Class<A> aggregateClass) {
        return Repository.builder(aggregateClass, store).serializer(serializer).build();
    }

    /** Appends {@code count} events to Ledger-{@code id} in batches, as years of saves would have. */
    private void history(String id, int count) {
        List<EventData> batch = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Object event = i % 10 == 9 ? new Noted("note " + i) : new Deposited(i % 7 + 1, "depositor-" + (i % 13));
            batch.add(serializer.serialize(event, Map.of()));
            if (batch.size() == 1000 || i == count - 1) {
                store.append("Ledger-" + id, ExpectedVersion.ANY, batch);
                batch = new ArrayList<>();
            }
        }
    }

    @Test
    void aHundredThousandEventAggregateLoadsFromItsSnapshotAndReplaysOnlyTheTail() {
        history("big", 100_000);
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(1000));
        Ledger first = ledgers.load("big");
        assertEquals(100_000, first.replayed, "no snapshot yet: a full replay");
        first.deposit(5, "me");
        first.save();
        assertEquals(100_000, snapshots.load("Ledger-big").orElseThrow().version(), "taken after the save");

        history("big", 25);
        Ledger fromSnapshot = ledgers.load("big");

        assertEquals(25, fromSnapshot.replayed, "only the events after the snapshot are replayed");
        Ledger full = withoutSnapshots().load("big");
        assertEquals(100_026, full.replayed);
        assertEquals(full.state(), fromSnapshot.state(), "the same state either way");
        assertEquals(full.version(), fromSnapshot.version());
    }

    @Test
    void theSnapshotPolicyCountsEventsSinceTheLastSnapshot() {
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(3));
        List<Long> takenAt = new ArrayList<>();
        for (int save = 0; save < 6; save++) {
            Ledger ledger = ledgers.load("1");
            ledger.deposit(1, "a");
            if (save == 4) {
                ledger.deposit(1, "a");
                ledger.deposit(1, "a");
            }
            ledger.save();
            takenAt.add(snapshots.load("Ledger-1").map(Snapshot::version).orElse(-1L));
        }
        // versions after each save: 0, 1, 2 (3 events: snapshot), 3, 6 (3 more: snapshot), 7
        assertEquals(List.of(-1L, -1L, 2L, 2L, 6L, 6L), takenAt);
    }

    @Test
    void aCorruptSnapshotFallsBackToAFullReplay() {
        history("1", 50);
        snapshots.save(new Snapshot("Ledger-1", 40, typeOfLedgerSnapshots(), "{not json".getBytes(StandardCharsets.UTF_8),
                Instant.now()));

        Ledger ledger = repository(snapshots, SnapshotPolicy.never()).load("1");

        assertEquals(50, ledger.replayed);
        assertEquals(withoutSnapshots().load("1").state(), ledger.state());
    }

    @Test
    void aSnapshotOfAnotherShapeOrOfALongerStreamIsIgnored() {
        history("1", 30);
        byte[] state = validSnapshotOf("1").data();
        snapshots.save(new Snapshot("Ledger-1", 20, "com.example.Ledger#ffffffffffffffff", state, Instant.now()));
        assertEquals(30, repository(snapshots, SnapshotPolicy.never()).load("1").replayed, "a class that changed shape");

        snapshots.delete("Ledger-1");
        snapshots.save(new Snapshot("Ledger-1", 500, typeOfLedgerSnapshots(), state, Instant.now()));
        Ledger ledger = repository(snapshots, SnapshotPolicy.never()).load("1");
        assertEquals(30, ledger.replayed, "the stream has no event at the snapshot's version");
        assertEquals(29, ledger.version());
    }

    @Test
    void aSnapshotOfAStreamThatWasResetIsNotRestoredOnceTheStreamGrowsPastItAgain() {
        repository(snapshots, SnapshotPolicy.everyEvents(1)).update("1", l -> {
            l.deposit(100, "old");
            l.deposit(100, "old");
            l.deposit(100, "old");
        });
        assertEquals(2, snapshots.load("Ledger-1").orElseThrow().version(), "taken of the old stream at version 2");
        try (InMemoryEventStore reset = new InMemoryEventStore()) {     // the events are gone, the snapshots kept
            Repository<Ledger> ledgers = Repository.builder(Ledger.class, reset).serializer(serializer)
                    .snapshots(snapshots, SnapshotPolicy.everyEvents(10)).build();
            for (int i = 0; i < 3; i++) {
                ledgers.update("1", l -> l.deposit(1, "new"));
            }

            Ledger ledger = ledgers.load("1");

            assertEquals(3, ledger.balance, "replayed from the new events, not restored from the old stream's snapshot");
            assertEquals(3, ledger.replayed);
            assertEquals(2, ledger.version());
            assertEquals(Optional.empty(), snapshots.load("Ledger-1"), "the stale snapshot is deleted");
        }
    }

    @Test
    void aSnapshotClaimingAVersionTheStreamDoesNotHaveIsDeletedSoTheStreamsOwnCanBeKept() {
        history("1", 3);
        snapshots.save(new Snapshot("Ledger-1", 500, typeOfLedgerSnapshots(), validSnapshotOf("1").data(), Instant.now()));
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(1));

        ledgers.update("1", l -> l.deposit(5, "a"));

        assertEquals(3, snapshots.load("Ledger-1").orElseThrow().version(), "the stream's own, taken after the save");
        assertEquals(0, ledgers.load("1").replayed, "and restored");
    }

    @Test
    void aStaleSnapshotTakenByAnotherClassIsDeletedSoTheStreamsOwnCanBeKept() {
        history("1", 3);
        String before = "dev.flux.memory.SnapshotTest$Ledger#ffffffffffffffff";   // the class as an older release had it
        snapshots.save(new Snapshot("Ledger-1", 500, before, validSnapshotOf("1").data(), Instant.now()));
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(1));

        ledgers.update("1", l -> l.deposit(5, "a"));

        assertEquals(3, snapshots.load("Ledger-1").orElseThrow().version(), "the stream's own, taken after the save");
        assertEquals(0, ledgers.load("1").replayed, "and restored");
    }

    @Test
    void aSnapshotTakenByAnotherClassAfterAnEventTheStreamNoLongerHoldsIsDeleted() {
        history("1", 30);
        Snapshot ofAnotherStream = validSnapshotOf("1");    // taken after event 0 of another stream of that id
        snapshots.save(new Snapshot("Ledger-1", 0, "dev.flux.memory.SnapshotTest$Ledger#ffffffffffffffff",
                ofAnotherStream.data(), Instant.now()));

        Ledger ledger = repository(snapshots, SnapshotPolicy.never()).load("1");

        assertEquals(30, ledger.replayed);
        assertEquals(Optional.empty(), snapshots.load("Ledger-1"), "deleted, not only ignored");
    }

    static class Library {
        public abstract static class Counter extends Aggregate {
            protected long count;
        }
    }

    record Counted(long by) { }

    /** A subclass of the same simple name as its superclass, with a field of the same name. */
    public static class Counter extends Library.Counter {
        private long count;
        transient int replayed;

        private void handleCounted(Counted e) {
            super.count += e.by();
            count += 2 * e.by();
            replayed++;
        }
    }

    @Test
    void aSuperclassOfTheSameSimpleNameKeepsItsFieldsInTheSnapshot() {
        Repository<Counter> counters = snapshottingEveryEvent(Counter.class);
        counters.update("1", c -> c.update(new Counted(3)));

        Counter fromSnapshot = counters.load("1");

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertEquals(3, ((Library.Counter) fromSnapshot).count);
        assertEquals(6, fromSnapshot.count);
    }

    @Test
    void aSnapshotStoreThatFailsNeverFailsASaveOrALoad() {
        SnapshotStore broken = new SnapshotStore() {
            @Override
            public Optional<Snapshot> load(String streamId) {
                throw new IllegalStateException("snapshot disk is gone");
            }

            @Override
            public void save(Snapshot snapshot) {
                throw new IllegalStateException("snapshot disk is gone");
            }

            @Override
            public void delete(String streamId) {
            }
        };
        Repository<Ledger> ledgers = repository(broken, SnapshotPolicy.everyEvents(1));

        ledgers.update("1", l -> l.deposit(3, "a"));
        ledgers.update("1", l -> l.deposit(4, "b"));

        assertEquals(7, ledgers.load("1").balance);
        assertEquals(1, store.streamVersion("Ledger-1"));
    }

    @Test
    void transientFieldsAreNotInTheSnapshot() {
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(1));
        ledgers.update("1", l -> l.note("hello"));

        String state = new String(snapshots.load("Ledger-1").orElseThrow().data(), StandardCharsets.UTF_8);

        assertTrue(state.contains("\"Ledger.notes\":[\"hello\"]"), state);
        assertTrue(!state.contains("replayed"), state);
        assertEquals(0, ledgers.load("1").replayed);
    }

    @Test
    void savedEventsArePublishedToTheBusAfterTheSave() {
        Bus bus = new Bus();
        List<String> published = new ArrayList<>();
        bus.subscribe(Object.class, e -> published.add(e + " stored=" + store.streamVersion("Ledger-1")));
        Repository<Ledger> ledgers = Repository.builder(Ledger.class, store).serializer(serializer).publishTo(bus).build();

        Ledger ledger = ledgers.load("1");
        ledger.deposit(2, "a");
        ledger.note("x");
        ledger.save();

        assertEquals(List.of("Deposited[amount=2, by=a] stored=1", "Noted[note=x] stored=1"), published);
    }

    @Test
    void decimalsComeBackFromASnapshotExactly() {
        Repository<Wallet> wallets = snapshottingEveryEvent(Wallet.class);
        wallets.update("1", w -> w.pay("12345678901234567.10"));

        Wallet fromSnapshot = wallets.load("1");

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        Wallet replayed = withoutSnapshots(Wallet.class).load("1");
        assertEquals(new BigDecimal("12345678901234567.10"), replayed.balance);
        assertEquals(replayed.balance, fromSnapshot.balance);
    }

    @Test
    void aFieldTypedByASuperclassTypeParameterComesBackAsItsBoundType() {
        Repository<Cart> carts = snapshottingEveryEvent(Cart.class);
        carts.update("1", c -> c.add(new Item("tea", 2)));

        Cart fromSnapshot = carts.load("1");

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertEquals(List.of(new Item("tea", 2)), fromSnapshot.items);
    }

    @Test
    void collectionsComeBackAsTheClassesTheAggregateCreatesThem() {
        Repository<Tags> tags = snapshottingEveryEvent(Tags.class);
        for (String tag : List.of("zulu", "alpha", "mike", "bravo", "yankee", "charlie", "xray", "delta")) {
            tags.update("1", t -> t.tag(tag));
        }
        withoutSnapshots(Tags.class).update("1", t -> t.tag("echo"));

        Tags fromSnapshot = tags.load("1");

        assertEquals(1, fromSnapshot.replayed, "restored from the snapshot, then one event replayed");
        Tags replayed = withoutSnapshots(Tags.class).load("1");
        assertEquals(List.copyOf(replayed.inOrderSeen), List.copyOf(fromSnapshot.inOrderSeen), "a LinkedHashSet keeps its order");
        assertEquals(List.copyOf(replayed.countsByTag.keySet()), List.copyOf(fromSnapshot.countsByTag.keySet()),
                "a TreeMap stays sorted");
    }

    @Test
    void anEnumSetComesBackAsAnEnumSetInTheOrderOfItsConstants() {
        Repository<Palette> palettes = snapshottingEveryEvent(Palette.class);
        List<Colour> painted = new ArrayList<>(List.of(Colour.values()));
        java.util.Collections.reverse(painted);
        for (Colour colour : painted) {
            palettes.update("1", p -> p.update(new Painted(colour)));
        }

        Palette fromSnapshot = palettes.load("1");

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertTrue(fromSnapshot.used instanceof EnumSet, fromSnapshot.used.getClass().getName());
        assertEquals(List.of(Colour.values()), List.copyOf(fromSnapshot.used));
    }

    @Test
    void aSnapshotTakenBeforeAFieldsClassChangedIsIgnored(@TempDir Path classes) throws Exception {
        Class<? extends Aggregate> before = compileShop(classes.resolve("before"), "record Item(String name) { }");
        Class<? extends Aggregate> after = compileShop(classes.resolve("after"),
                "record Item(String name, int qty) { Item(String name) { this(name, 1); } }");
        Repository.builder(before, store).snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build().update("1", shop -> ((Runnable) shop).run());

        Aggregate loaded = Repository.builder(after, store).snapshots(snapshots, SnapshotPolicy.never()).build().load("1");

        assertEquals("Item[name=tea, qty=1]", loaded.toString(), "replayed, not restored with qty 0");
    }

    /** Compiles a Shop aggregate holding {@code item}; running it adds a tea, its toString shows the last item. */
    private static Class<? extends Aggregate> compileShop(Path dir, String item) throws Exception {
        return compileShop(dir, item, "", "record Added(String name) { }", "last = new Item(e.name());");
    }

    /**
     * Compiles a Shop aggregate with {@code annotation} on its class, holding {@code item} in its field
     * {@code last}, whose handler of {@code added} runs {@code handler}; running it adds a tea, its
     * toString shows the last item.
     */
    private static Class<? extends Aggregate> compileShop(Path dir, String annotation, String added, String handler)
            throws Exception {
        return compileShop(dir, "record Item(String name) { }", annotation, added, handler);
    }

    private static Class<? extends Aggregate> compileShop(Path dir, String item, String annotation, String added, String handler)
            throws Exception {
        Path source = dir.resolve("shop/Shop.java");
        Files.createDirectories(source.getParent());
        Files.writeString(source, "package shop;\n"
                + annotation + "\n"
                + "public class Shop extends dev.flux.Aggregate implements Runnable {\n"
                + "    public " + item + "\n"
                + "    public " + added + "\n"
                + "    private Item last;\n"
                + "    public void run() { update(new Added(\"tea\")); }\n"
                + "    private void handleAdded(Added e) { " + handler + " }\n"
                + "    public String toString() { return String.valueOf(last); }\n"
                + "}\n");
        String fluxCore = Path.of(Aggregate.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        if (ToolProvider.getSystemJavaCompiler().run(null, null, null, "-cp", fluxCore, "-d", dir.toString(), source.toString()) != 0) {
            fail("cannot compile " + source);
        }
        URLClassLoader loader = new URLClassLoader(new URL[]{dir.toUri().toURL()}, SnapshotTest.class.getClassLoader());
        return loader.loadClass("shop.Shop").asSubclass(Aggregate.class);
    }

    @Test
    void aSnapshotTakenBeforeAnEventTypesSchemaVersionWasRaisedIsIgnored() {
        JacksonEventSerializer before = new JacksonEventSerializer(new EventTypes().register("Coined", Coined.class, 1));
        Repository.builder(Purse.class, store).serializer(before).snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build()
                .update("1", p -> p.update(new Coined(3)));
        // The next release counts in cents: version 2 of Coined, and an upcaster from the version 1 events stored.
        EventTypes cents = new EventTypes().register("Coined", Coined.class, 2)
                .upcaster("Coined", 1, json -> json.put("amount", json.get("amount").asLong() * 100));
        Repository<Purse> purses = Repository.builder(Purse.class, store).serializer(new JacksonEventSerializer(cents))
                .snapshots(snapshots, SnapshotPolicy.never()).build();

        Purse loaded = purses.load("1");

        assertEquals(1, loaded.replayed, "replayed through the new upcaster, not restored from the old release's snapshot");
        assertEquals(300, loaded.amount);
    }

    @Test
    void aSnapshotTakenBeforeAnEventClassChangedIsIgnored(@TempDir Path classes) throws Exception {
        Class<? extends Aggregate> before = compileShop(classes.resolve("before"), "", "record Added(String name) { }",
                "last = new Item(e.name());");
        Class<? extends Aggregate> after = compileShop(classes.resolve("after"), "",
                "record Added(String name, boolean loud) { Added(String name) { this(name, false); } }",
                "last = new Item(e.loud() ? e.name().toUpperCase() : e.name() + \" (quiet)\");");
        Repository.builder(before, store).snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build().update("1", shop -> ((Runnable) shop).run());

        Aggregate loaded = Repository.builder(after, store).snapshots(snapshots, SnapshotPolicy.never()).build().load("1");

        assertEquals("Item[name=tea (quiet)]", loaded.toString(), "replayed, not restored as the old class made it");
    }

    @Test
    void raisingTheAggregatesSchemaVersionIgnoresTheSnapshotsTakenBefore(@TempDir Path classes) throws Exception {
        Class<? extends Aggregate> before = compileShop(classes.resolve("before"), "", "record Added(String name) { }",
                "last = new Item(e.name());");
        Class<? extends Aggregate> after = compileShop(classes.resolve("after"), "@dev.flux.serialization.SchemaVersion(2)",
                "record Added(String name) { }", "last = new Item(e.name().toUpperCase());");
        Repository.builder(before, store).snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build().update("1", shop -> ((Runnable) shop).run());

        Aggregate loaded = Repository.builder(after, store).snapshots(snapshots, SnapshotPolicy.never()).build().load("1");

        assertEquals("Item[name=TEA]", loaded.toString(), "replayed through the changed handler, not restored");
    }

    @Test
    void aSnapshotTakenBeforeACollectionFieldStartedAsAnotherClassIsIgnored(@TempDir Path classes) throws Exception {
        String handler = "seen.add((seen.isEmpty() ? \"z\" : \"a\") + e.name()); last = new Item(String.valueOf(seen));";
        Class<? extends Aggregate> before = compileShop(classes.resolve("before"),
                "record Item(String name) { }\n    private java.util.Set<String> seen = new java.util.TreeSet<>();", "",
                "record Added(String name) { }", handler);
        Class<? extends Aggregate> after = compileShop(classes.resolve("after"),
                "record Item(String name) { }\n    private java.util.Set<String> seen = new java.util.LinkedHashSet<>();", "",
                "record Added(String name) { }", handler);
        Repository.builder(before, store).snapshots(snapshots, SnapshotPolicy.everyEvents(2)).build()
                .update("1", shop -> { ((Runnable) shop).run(); ((Runnable) shop).run(); });

        Aggregate loaded = Repository.builder(after, store).snapshots(snapshots, SnapshotPolicy.never()).build().load("1");

        assertEquals("Item[name=[ztea, atea]]", loaded.toString(), "replayed in insertion order, not restored in sorted order");
    }

    @SchemaVersion(0)
    public static class Unversioned extends Aggregate {
        private long count;

        private void handleCounted(Counted e) {
            count += e.by();
        }
    }

    @Test
    void anAggregateSchemaVersionBelowOneIsRefusedWhenSnapshotsAreConfigured() {
        Repository.Builder<Unversioned> builder = Repository.builder(Unversioned.class, store).snapshots(snapshots, SnapshotPolicy.never());

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, builder::build);

        assertTrue(refused.getMessage().contains(Unversioned.class.getName()) && refused.getMessage().contains("@SchemaVersion(0)"),
                refused.getMessage());
    }

    @Test
    void aFieldHoldingASubclassOfItsDeclaredClassIsNotSnapshotted() {
        Repository<Till> tills = snapshottingEveryEvent(Till.class);
        tills.update("1", t -> t.update(new Discounted(10, true)));

        Till loaded = tills.load("1");

        assertEquals(Optional.empty(), snapshots.load("Till-1"), "a snapshot would bring a Discount back, not a DoubleDiscount");
        assertEquals(1, loaded.replayed);
        assertEquals(80, loaded.discount.apply(100));
    }

    @Test
    void aStateThatIsNotSnapshottedIsTriedAgainAsManyEventsLaterAsAfterASnapshotNotOnEverySave() {
        List<Long> tries = new ArrayList<>();
        SnapshotPolicy everyThree = (last, version) -> {
            boolean due = version - last >= 3;
            if (due) {
                tries.add(version);
            }
            return due;
        };
        Repository<Till> tills = Repository.builder(Till.class, store).serializer(serializer).snapshots(snapshots, everyThree)
                .build();
        for (int i = 0; i < 12; i++) {
            tills.update("1", t -> t.update(new Discounted(10, true)));   // a DoubleDiscount: refused each time
        }

        assertEquals(List.of(2L, 5L, 8L, 11L), tries, "each try written, read back and warned about");
        assertEquals(Optional.empty(), snapshots.load("Till-1"));
        assertEquals(80, tills.load("1").discount.apply(100));
    }

    @Test
    void aSnapshotStoreThatFailsIsTriedAgainAsManyEventsLaterNotOnEverySave() {
        List<Long> tries = new ArrayList<>();
        AtomicBoolean down = new AtomicBoolean(true);
        SnapshotStore flaky = new SnapshotStore() {
            @Override
            public Optional<Snapshot> load(String streamId) {
                return snapshots.load(streamId);
            }

            @Override
            public void save(Snapshot snapshot) {
                tries.add(snapshot.version());
                if (down.get()) {
                    throw new IllegalStateException("snapshot server is down");
                }
                snapshots.save(snapshot);
            }

            @Override
            public void delete(String streamId) {
                snapshots.delete(streamId);
            }
        };
        Repository<Ledger> ledgers = repository(flaky, SnapshotPolicy.everyEvents(3));
        for (int i = 0; i < 6; i++) {
            ledgers.update("1", l -> l.deposit(1, "a"));
        }
        down.set(false);
        for (int i = 0; i < 6; i++) {
            ledgers.update("1", l -> l.deposit(1, "a"));
        }

        assertEquals(List.of(2L, 5L, 8L, 11L), tries);
        assertEquals(11, snapshots.load("Ledger-1").orElseThrow().version());
        assertEquals(12, ledgers.load("1").balance);
    }

    @Test
    void aSortedSetNestedInAMapIsNotSnapshottedAsAHashSet() {
        Repository<Labels> labels = snapshottingEveryEvent(Labels.class);
        for (String label : List.of("zulu", "alpha", "mike", "bravo", "yankee", "charlie")) {
            labels.update("1", l -> l.update(new Labelled("ann", label)));
        }

        Labels loaded = labels.load("1");

        assertEquals(Optional.empty(), snapshots.load("Labels-1"), "a snapshot would bring HashSets back");
        assertEquals(List.of("alpha", "bravo", "charlie", "mike", "yankee", "zulu"), List.copyOf(loaded.byUser.get("ann")));
        assertEquals(List.of("alpha", "bravo", "charlie", "mike", "yankee", "zulu"), List.copyOf(loaded.all));
    }

    @Test
    void anObjectTwoFieldsShareIsNotSnapshottedAsTwo() {
        Repository<Order> orders = snapshottingEveryEvent(Order.class);
        orders.update("1", o -> o.update(new LineAdded("tea")));
        withoutSnapshots(Order.class).update("1", o -> o.update(new LineChanged(3)));

        Order loaded = orders.load("1");

        assertEquals(Optional.empty(), snapshots.load("Order-1"), "restored, current would be another line than the map's");
        assertEquals(2, loaded.replayed);
        assertEquals(3, loaded.lines.get("tea").qty, "changed through current, as a replay does");
    }

    @Test
    void aListOfAnApplicationClassIsNotSnapshottedAsAnArrayList() {
        Repository<History> histories = snapshottingEveryEvent(History.class);
        histories.update("1", h -> h.update(new Visited("home")));
        for (String page : List.of("cart", "pay", "done")) {
            withoutSnapshots(History.class).update("1", h -> h.update(new Visited(page)));
        }

        History loaded = histories.load("1");

        assertEquals(Optional.empty(), snapshots.load("History-1"), "restored, the list would be an ArrayList that keeps all");
        assertEquals(List.of("cart", "pay", "done"), loaded.recent);
    }

    @Test
    void stateThatComesBackAsItWasIsSnapshottedWhateverListOrHashedClassesHoldIt() {
        Repository<Roster> rosters = snapshottingEveryEvent(Roster.class);
        for (String name : List.of("zoe", "al", "mo", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy", "jo", "kit")) {
            rosters.update("1", r -> r.update(new Joined(name)));
        }

        Roster fromSnapshot = rosters.load("1");

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        Roster replayed = withoutSnapshots(Roster.class).load("1");
        assertEquals(replayed.names, fromSnapshot.names);
        assertEquals(replayed.members, fromSnapshot.members);
        assertEquals(replayed.firstLetters, fromSnapshot.firstLetters);
    }

    /** An aggregate that cannot be made before the application has set its clock. */
    public static class Clocked extends Aggregate {
        Clocked() {
            throw new IllegalStateException("no clock yet");
        }
    }

    @Test
    void anAggregateWhoseConstructorThrowsIsRefusedWhenSnapshotsAreConfiguredNamingTheConstructor() {
        Repository.Builder<Clocked> builder = Repository.builder(Clocked.class, store).snapshots(snapshots, SnapshotPolicy.never());

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, builder::build);

        assertTrue(refused.getMessage().contains(Clocked.class.getName()) && refused.getMessage().contains("constructor threw")
                && refused.getMessage().contains("no clock yet"), refused.getMessage());
        assertEquals("no clock yet", refused.getCause().getMessage());
    }

    @Test
    void aFieldThatHoldsPlainObjectsIsRefusedWhenSnapshotsAreConfigured() {
        Repository.Builder<Profile> profiles = Repository.builder(Profile.class, store).snapshots(snapshots, SnapshotPolicy.never());

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, profiles::build);

        assertTrue(refused.getMessage().contains(Profile.class.getName()), refused.getMessage());
        assertTrue(refused.getMessage().contains("Profile.attributes"), refused.getMessage());
        assertTrue(refused.getMessage().contains("concrete type") && refused.getMessage().contains("transient"), refused.getMessage());
    }

    @Test
    void badSnapshotOptionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Repository.builder(Ledger.class, store).snapshots(null, SnapshotPolicy.never()));
        assertThrows(IllegalArgumentException.class, () -> Repository.builder(Ledger.class, store).snapshots(snapshots, null));
        assertThrows(IllegalArgumentException.class, () -> SnapshotPolicy.everyEvents(0));
        assertThrows(IllegalArgumentException.class, () -> Repository.builder(Ledger.class, store).publishTo(null));
        assertThrows(IllegalArgumentException.class, () -> new Snapshot("Ledger-1", -1, "t", new byte[0], Instant.now()));
    }

    /** A real snapshot of a ledger like Ledger-{@code id}, taken in scratch stores. */
    private Snapshot validSnapshotOf(String id) {
        try (InMemoryEventStore scratchEvents = new InMemoryEventStore()) {
            InMemorySnapshotStore scratch = new InMemorySnapshotStore();
            Repository<Ledger> ledgers = Repository.builder(Ledger.class, scratchEvents).serializer(serializer)
                    .snapshots(scratch, SnapshotPolicy.everyEvents(1)).build();
            Ledger ledger = ledgers.load(id);
            ledger.note("snapshot me");
            ledger.save();
            return scratch.load("Ledger-" + id).orElseThrow();
        }
    }

    private String typeOfLedgerSnapshots() {
        return validSnapshotOf("type-probe").type();
    }

    /** Ledger-1 with {@code events} events and a deposit saved after them, snapshotted at that deposit. */
    private Repository<Ledger> snapshottedAfter(int events) {
        history("1", events);
        Repository<Ledger> ledgers = repository(snapshots, SnapshotPolicy.everyEvents(1));
        Ledger latest = ledgers.load("1");
        latest.deposit(1, "me");
        latest.save();
        assertEquals(events, snapshots.load("Ledger-1").orElseThrow().version(), "taken after the save");
        return ledgers;
    }

    @Test
    void anAggregateLoadedAtAVersionBeforeItsSnapshotIsReplayedFromTheStartAndTheSnapshotIsKept() {
        Repository<Ledger> ledgers = snapshottedAfter(50);

        Ledger then = ledgers.load("1", 19);

        assertEquals(20, then.replayed, "every event up to version 19, none after it");
        assertEquals(withoutSnapshots().load("1", 19).state(), then.state());
        assertEquals(50, snapshots.load("Ledger-1").orElseThrow().version(), "the newer snapshot is still there");
        assertEquals(0, ledgers.load("1").replayed, "and still restores the latest state");
    }

    @Test
    void anAggregateLoadedAtAVersionAfterItsSnapshotReplaysOnlyTheEventsBetween() {
        Repository<Ledger> ledgers = snapshottedAfter(30);
        history("1", 20);

        Ledger then = ledgers.load("1", 39);

        assertEquals(9, then.replayed, "versions 31 to 39, after the snapshot");
        assertEquals(39, then.version());
        assertEquals(withoutSnapshots().load("1", 39).state(), then.state());
    }
}
