package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.Repository;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.snapshot.SnapshotPolicy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The state aggregates hold every day (records, enums, dates, decimals, floating point, arrays, the JDK's
 * immutable and ordered collections, inherited fields) is snapshotted, and a load from the snapshot gives
 * what a replay gives.
 */
class SnapshotOfEverydayStateTest {
    enum Status { OPEN, CLOSED }

    record Money(BigDecimal amount, String currency) { }

    record Line(String sku, int qty, Money price, double weight) { }

    record Happened(int n) { }

    /** Values of every kind, as fields and in arrays. */
    public static class Values extends Aggregate {
        private Status status = Status.OPEN;
        private Instant at;
        private LocalDate day;
        private BigDecimal total = BigDecimal.ZERO;
        private UUID ref;
        private double notANumber;
        private double negativeZero;
        private Double boxed;
        private float ratio;
        private char initial;
        private Money last;
        private int[] ints = new int[0];
        private long[] longs;
        private byte[] bytes;
        private char[] chars;
        private double[] doubles;
        transient int replayed;

        private void handleHappened(Happened e) {
            int n = e.n();
            status = n % 2 == 0 ? Status.OPEN : Status.CLOSED;
            at = Instant.ofEpochSecond(1_700_000_000L + n, 123_456_789);
            day = LocalDate.of(2024, 2, 28).plusDays(n);
            total = total.add(new BigDecimal("1.10"));
            ref = new UUID(n, -n);
            notANumber = Double.NaN;
            negativeZero = -0.0 * (n + 1);
            boxed = n % 2 == 0 ? Double.valueOf(-0.0) : Double.NaN;
            ratio = 0.1f * n;
            initial = 'é';
            last = new Money(new BigDecimal("2.50"), "EUR");
            ints = Arrays.copyOf(ints, ints.length + 1);
            ints[n] = -n;
            longs = new long[] {n, Long.MIN_VALUE};
            bytes = new byte[] {1, (byte) -n};
            chars = new char[] {'a', 'é', (char) ('0' + n)};
            doubles = new double[] {Double.NaN, 0.1 * n, -0.0, Double.NEGATIVE_INFINITY, Double.MIN_VALUE};
            replayed++;
        }
    }

    /** The JDK's immutable, hashed, ordered and enum collections, holding records and each other. */
    public static class Holdings extends Aggregate {
        private List<String> names = List.of();
        private Map<String, Integer> counts = Map.of();
        private Set<String> tags = Set.of();
        private final Map<Status, Long> byStatus = new EnumMap<>(Status.class);
        private final Set<Status> statuses = EnumSet.noneOf(Status.class);
        private final Map<String, Line> lines = new HashMap<>();
        private final Map<String, Money> inOrder = new LinkedHashMap<>();
        private final Map<String, List<Line>> bySku = new HashMap<>();
        private final Map<String, Map<String, Long>> nested = new HashMap<>();
        private final Set<Line> distinct = new HashSet<>();
        private final Map<Long, String> byNumber = new HashMap<>();
        private final Map<LocalDate, Integer> byDay = new HashMap<>();
        private final List<Double> fractions = new ArrayList<>();
        private List<Status> history = Collections.unmodifiableList(new ArrayList<>());
        private Map<String, Integer> lengths = new HashMap<>();
        transient int replayed;

        private void handleHappened(Happened e) {
            int n = e.n();
            Status status = n % 3 == 0 ? Status.OPEN : Status.CLOSED;
            Line line = new Line("sku-" + (20 - n), n, new Money(new BigDecimal(n + ".50"), "EUR"), n / 3.0);
            names = append(names, "name-" + n);
            Map<String, Integer> more = new HashMap<>(counts);
            more.put("count-" + n, n);
            counts = Map.copyOf(more);
            tags = Set.copyOf(append(List.copyOf(tags), "tag-" + n));
            byStatus.merge(status, 1L, Long::sum);
            statuses.add(status);
            lines.put(line.sku(), line);
            inOrder.put("z-" + (20 - n), line.price());
            bySku.computeIfAbsent(line.sku(), k -> new ArrayList<>()).add(line);
            nested.computeIfAbsent("n-" + n % 2, k -> new HashMap<>()).merge("m-" + n, (long) n, Long::sum);
            distinct.add(line);
            byNumber.put((long) n * 1_000_000_007L, "v" + n);
            byDay.merge(LocalDate.of(2024, 1, 1).plusDays(n % 4), 1, Integer::sum);
            fractions.add(n % 2 == 0 ? -0.0 : 0.1 * n);
            history = Collections.unmodifiableList(append(history, status));
            lengths = names.stream().collect(Collectors.toMap(name -> name, String::length));
            replayed++;
        }

        private static <T> List<T> append(List<T> list, T element) {
            List<T> longer = new ArrayList<>(list);
            longer.add(element);
            return longer;
        }
    }

    /** An application superclass's fields, set at their declaration or in the constructor. */
    public abstract static class Ledger extends Aggregate {
        protected final Map<String, Long> balances;
        protected final List<String> entries = new ArrayList<>();
        protected transient Map<String, String> cache = new HashMap<>();

        protected Ledger() {
            balances = new LinkedHashMap<>();
        }
    }

    public static class Till extends Ledger {
        private final Set<String> cashiers;
        private Line lastLine;
        transient int replayed;

        Till() {
            cashiers = new HashSet<>();
        }

        private void handleHappened(Happened e) {
            int n = e.n();
            balances.merge("cashier-" + (n % 3), (long) n, Long::sum);
            entries.add("entry-" + n);
            cache.put("last", "entry-" + n);
            cashiers.add("cashier-" + (n % 3));
            lastLine = new Line("sku", n, null, -0.0);
            replayed++;
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final InMemorySnapshotStore snapshots = new InMemorySnapshotStore();
    private final JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Happened.class));

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void valuesOfEveryKindAreSnapshottedAndComeBackAsAReplayGivesThem() throws Exception {
        Values fromSnapshot = snapshottedAfterHappenings(Values.class, 12);

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertSameState(replayed(Values.class), fromSnapshot);
    }

    @Test
    void theJdksCollectionsAreSnapshottedAndComeBackAsAReplayGivesThem() throws Exception {
        Holdings fromSnapshot = snapshottedAfterHappenings(Holdings.class, 12);

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertSameState(replayed(Holdings.class), fromSnapshot);
    }

    @Test
    void inheritedFieldsSetInTheConstructorOrAtTheirDeclarationAreSnapshottedAndComeBackAsAReplayGivesThem() throws Exception {
        Till fromSnapshot = snapshottedAfterHappenings(Till.class, 12);

        assertEquals(0, fromSnapshot.replayed, "restored from the snapshot");
        assertEquals(Map.of(), fromSnapshot.cache, "transient: as the constructor left it");
        assertSameState(replayed(Till.class), fromSnapshot);
    }

    /** Saves {@code count} happenings one by one, each followed by a snapshot; loads from the last. */
    private <A extends Aggregate> A snapshottedAfterHappenings(Class<A> aggregateClass, int count) {
        Repository<A> repository = Repository.builder(aggregateClass, store).serializer(serializer)
                .snapshots(snapshots, SnapshotPolicy.everyEvents(1)).build();
        for (int n = 0; n < count; n++) {
            int happening = n;
            repository.update("1", a -> a.update(new Happened(happening)));
        }
        String streamId = repository.streamId("1");
        assertEquals(count - 1, snapshots.load(streamId).map(s -> s.version()).orElse(-1L), "a snapshot of " + streamId
                + " after its last event");
        return repository.load("1");
    }

    private <A extends Aggregate> A replayed(Class<A> aggregateClass) {
        return Repository.builder(aggregateClass, store).serializer(serializer).build().load("1");
    }

    /**
     * Each field holds an equal value ({@code -0.0} is not {@code 0.0}, {@code NaN} is {@code NaN}), and a
     * collection or map other than a hashed one iterates in the same order.
     */
    private static void assertSameState(Aggregate replayed, Aggregate fromSnapshot) throws IllegalAccessException {
        assertEquals(replayed.version(), fromSnapshot.version());
        for (Class<?> c = replayed.getClass(); c != Aggregate.class; c = c.getSuperclass()) {
            for (Field field : c.getDeclaredFields()) {
                if (Modifier.isStatic(field.getModifiers()) || Modifier.isTransient(field.getModifiers())) {
                    continue;
                }
                field.setAccessible(true);
                Object expected = field.get(replayed);
                Object actual = field.get(fromSnapshot);
                String name = c.getSimpleName() + "." + field.getName();
                assertTrue(Objects.deepEquals(expected, actual), name + ": a replay gives " + text(expected)
                        + ", the snapshot " + text(actual));
                if ((expected instanceof Collection<?> || expected instanceof Map<?, ?>) && !(expected instanceof HashMap<?, ?>
                        || expected instanceof HashSet<?> || expected.getClass().getName().startsWith("java.util.ImmutableCollections$Set")
                        || expected.getClass().getName().startsWith("java.util.ImmutableCollections$Map"))) {
                    assertEquals(String.valueOf(expected), String.valueOf(actual), name + " in the same order");
                }
            }
        }
    }

    private static String text(Object value) {
        return value instanceof Object[] array ? Arrays.deepToString(array) : value instanceof double[] doubles
                ? Arrays.toString(doubles) : String.valueOf(value);
    }
}
