package dev.flux;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * An aggregate's uncommitted events: an array that doubles as it fills. {@link java.util.ArrayList}
 * grows by half, which for an aggregate gathering many events copies and allocates about twice as
 * much per event; measured beside this buffer, its growth was a third of {@code update}'s cost.
 * The array is allocated on the first event, so aggregates loaded only to be read allocate none.
 * Not thread-safe, like the aggregate that owns it.
 */
final class EventBuffer extends AbstractList<Object> implements RandomAccess {
    private static final Object[] NONE = {};

    private Object[] events = NONE;
    private int size;

    @Override
    public boolean add(Object event) {
        Object[] array = events;
        int n = size;
        if (n == array.length) {
            array = Arrays.copyOf(array, n == 0 ? 8 : n * 2);
            events = array;
        }
        array[n] = event;
        size = n + 1;
        modCount++;     // an iteration of uncommittedEvents() that an update overtakes fails fast, as on a list
        return true;
    }

    @Override
    public Object get(int index) {
        Objects.checkIndex(index, size);
        return events[index];
    }

    @Override
    public int size() {
        return size;
    }

    /** Keeps the first {@code count} events (at most as many as it holds) and drops the rest. */
    void truncate(int count) {
        Objects.checkIndex(count, size + 1);
        Arrays.fill(events, count, size, null);
        size = count;
        modCount++;
    }

    /** Empties the buffer, keeping its array for the aggregate's next events. */
    @Override
    public void clear() {
        Arrays.fill(events, 0, size, null);
        size = 0;
        modCount++;
    }
}
