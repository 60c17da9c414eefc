package dev.flux.memory;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A growable array with one writer at a time (the caller holds the store's append lock) and any
 * number of lock-free readers. The writer fills slots beyond {@code size}, then publishes them all at
 * once by writing the volatile {@code size}; a reader reads {@code size} first and then the array, so
 * it sees every slot below the size it read (a grown array is filled before it is published).
 */
final class AppendOnlyArray<T> {
    private volatile Object[] items = new Object[8];
    private volatile int size;

    int size() {
        return size;
    }

    @SuppressWarnings("unchecked")
    T get(int index) {
        return (T) items[index];
    }

    /** Appends and publishes the batch; the caller holds the writer lock. */
    void addAll(List<T> batch) {
        int n = size;
        Object[] array = items;
        int needed = n + batch.size();
        if (needed > array.length) {
            array = Arrays.copyOf(array, Math.max(array.length * 2, needed));
            items = array;
        }
        for (int i = 0; i < batch.size(); i++) {
            array[n + i] = batch.get(i);
        }
        size = needed;
    }

    /** Up to {@code maxCount} items from index {@code from}, as an unmodifiable list. */
    @SuppressWarnings("unchecked")
    List<T> slice(long from, int maxCount) {
        int n = size;
        Object[] array = items;
        if (from >= n || maxCount == 0) {
            return List.of();
        }
        int start = (int) from;
        int end = (int) Math.min(n, (long) start + maxCount);
        return (List<T>) Collections.unmodifiableList(Arrays.asList(Arrays.copyOfRange(array, start, end)));
    }
}
