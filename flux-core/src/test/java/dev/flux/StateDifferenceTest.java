package dev.flux;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a snapshot must bring back for a load from it to give the state a replay gives. */
class StateDifferenceTest {
    record Sku(String code) { }

    static class Money {
        BigDecimal amount;
        transient String cachedText;

        Money(String amount) {
            this.amount = new BigDecimal(amount);
        }
    }

    static class Fee extends Money {
        Fee(String amount) {
            super(amount);
        }
    }

    @Test
    void anyListMatchesAnyListWithTheSameElementsInOrder() {
        assertNull(StateDifference.find(List.of("a", "b"), new ArrayList<>(List.of("a", "b")), "S.names"));

        assertEquals("S.names[0] is a but comes back as b",
                StateDifference.find(List.of("a", "b"), new ArrayList<>(List.of("b", "a")), "S.names"));
    }

    @Test
    void hashedSetsAndMapsMatchWhateverTheirOrder() {
        Set<Integer> grown = new HashSet<>(256);
        Set<Integer> small = new HashSet<>();
        for (int i = 200; i > 0; i -= 17) {
            grown.add(i);
            small.add(i);
        }

        assertNull(StateDifference.find(grown, small, "S.ids"));
        assertNull(StateDifference.find(Set.copyOf(grown), small, "S.ids"));
        assertNull(StateDifference.find(Map.of("x", 1, "y", 2), new HashMap<>(Map.of("y", 2, "x", 1)), "S.counts"));
        assertNull(StateDifference.find(Set.of(), new HashSet<>(), "S.ids"));
        assertNull(StateDifference.find(Map.of(new Sku("b"), 2, new Sku("a"), 1), new HashMap<>(Map.of(new Sku("a"), 1, new Sku("b"), 2)),
                "S.stock"));
    }

    @Test
    void hashedSetsAndMapsDifferWhenAnElementDoes() {
        assertEquals("S.ids holds 1, which does not come back", StateDifference.find(Set.of(1L), new HashSet<>(Set.of(1)), "S.ids"));
        assertEquals("S.counts[x] is 1 but comes back as 2",
                StateDifference.find(new HashMap<>(Map.of("x", 1L)), new HashMap<>(Map.of("x", 2L)), "S.counts"));
        assertEquals("S.stock[Sku[code=a]] is 1 but comes back as 2",
                StateDifference.find(Map.of(new Sku("a"), 1), new HashMap<>(Map.of(new Sku("a"), 2)), "S.stock"));
        assertEquals("S.skus holds [" + Sku.class.getName() + "{code=java.lang.String(a),}] but comes back holding ["
                        + Sku.class.getName() + "{code=java.lang.String(b),}]",
                StateDifference.find(Set.of(new Sku("a")), new HashSet<>(Set.of(new Sku("b"))), "S.skus"));
    }

    @Test
    void anInsertionOrderedSetDoesNotMatchAHashSet() {
        String difference = StateDifference.find(new LinkedHashSet<>(List.of("b", "a")), new HashSet<>(List.of("a", "b")), "S.seen");

        assertEquals("S.seen holds a java.util.LinkedHashSet, which comes back from a snapshot as a java.util.HashSet", difference);
    }

    @Test
    void aTreeMapSortedByAComparatorDoesNotMatchEvenWhenItsOneEntryDoes() {
        TreeMap<String, Integer> reversed = new TreeMap<>(Comparator.reverseOrder());
        reversed.put("a", 1);

        String difference = StateDifference.find(reversed, new TreeMap<>(Map.of("a", 1)), "S.ranks");

        assertTrue(difference.startsWith("S.ranks is a java.util.TreeMap sorted by "), difference);
        assertTrue(difference.endsWith("which a snapshot does not keep (it comes back in natural order)"), difference);
    }

    @Test
    void applicationClassesAreComparedByClassAndFieldButTransientFields() {
        Money cached = new Money("1.10");
        cached.cachedText = "1.10 EUR";
        assertNull(StateDifference.find(cached, new Money("1.10"), "S.price"));

        assertEquals("S.price.amount is 1.10 but comes back as 1.1",
                StateDifference.find(new Money("1.10"), new Money("1.1"), "S.price"));
        assertEquals("S.prices[k] holds a " + Fee.class.getName() + ", which comes back from a snapshot as a " + Money.class.getName(),
                StateDifference.find(Map.of("k", new Fee("1")), new HashMap<>(Map.of("k", new Money("1"))), "S.prices"));
    }

    @Test
    void nullsArraysAndOptionalsAreComparedToo() {
        assertEquals("S.last is null but comes back as a java.lang.String", StateDifference.find(null, "x", "S.last"));
        assertEquals("S.grid[1] is 2 but comes back as 3", StateDifference.find(new int[] {1, 2}, new int[] {1, 3}, "S.grid"));
        assertEquals("S.fee.get() holds a " + Fee.class.getName() + ", which comes back from a snapshot as a " + Money.class.getName(),
                StateDifference.find(Optional.of(new Fee("1")), Optional.of(new Money("1")), "S.fee"));
        assertNull(StateDifference.find(new Money[] {new Money("2")}, new Money[] {new Money("2")}, "S.prices"));
    }

    /** A node of a tree that knows its parent: a cycle, as Jackson's managed and back references restore it. */
    static class Node {
        String name;
        Node parent;
        final List<Node> children = new ArrayList<>();

        Node(String name) {
            this.name = name;
        }

        Node add(Node child) {
            child.parent = this;
            children.add(child);
            return this;
        }
    }

    static class Counter {
        int count;
    }

    record Pair(Sku first, Sku second) { }

    public static class Bounded extends ArrayList<String> {
        int max;
    }

    @Test
    void aCycleMatchesACycleThatClosesAlike() {
        Node live = new Node("root").add(new Node("leaf"));
        Node back = new Node("root").add(new Node("leaf"));
        assertNull(StateDifference.find(live, back, "S.tree"));

        Node open = new Node("root").add(new Node("leaf"));
        open.children.get(0).parent = new Node("root");
        assertEquals("S.tree.children[0].parent refers to an object that holds it, which comes back otherwise",
                StateDifference.find(live, open, "S.tree"));
    }

    @Test
    void anObjectThatCanChangeReachedTwiceMustComeBackAsOne() {
        Counter shared = new Counter();
        StateDifference check = new StateDifference();
        assertNull(check.between(Map.of("a", shared), new HashMap<>(Map.of("a", new Counter())), "S.byName"));

        String difference = check.between(shared, new Counter(), "S.current");

        assertEquals("S.current and S.byName[a] hold one " + Counter.class.getName() + ", which comes back from a snapshot as"
                + " two: replayed, a change through one shows in the other (if nothing changes it, make its fields final, or it"
                + " a record)", difference);
        Counter back = new Counter();
        assertNull(StateDifference.find(List.of(shared, shared), List.of(back, back), "S.twice"), "one, and one back");
    }

    @Test
    void aValueReachedTwiceMayComeBackAsTwo() {
        Sku tea = new Sku("tea");

        assertNull(StateDifference.find(new Pair(tea, tea), new Pair(new Sku("tea"), new Sku("tea")), "S.pair"));
    }

    @Test
    void aListOfAnApplicationClassMustComeBackAsThatClassWithItsFields() {
        Bounded live = new Bounded();
        live.max = 3;
        live.add("a");

        assertEquals("S.recent holds a " + Bounded.class.getName() + ", which comes back from a snapshot as a java.util.ArrayList",
                StateDifference.find(live, new ArrayList<>(List.of("a")), "S.recent"));
        Bounded back = new Bounded();
        back.add("a");
        assertEquals("S.recent.max is 3 but comes back as 0", StateDifference.find(live, back, "S.recent"));
    }

    @Test
    void aPriorityQueueOrderedByAComparatorDoesNotMatchEvenWhenItsOneElementDoes() {
        PriorityQueue<Integer> highestFirst = new PriorityQueue<>(Comparator.reverseOrder());
        highestFirst.add(1);

        String difference = StateDifference.find(highestFirst, new PriorityQueue<>(List.of(1)), "S.queue");

        assertTrue(difference.startsWith("S.queue is a java.util.PriorityQueue sorted by "), difference);
        assertNull(StateDifference.find(new PriorityQueue<>(List.of(3, 1, 2)), new PriorityQueue<>(List.of(3, 1, 2)), "S.queue"));
    }
}
