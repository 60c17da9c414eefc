package dev.flux.memory;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.RandomAccess;
import java.util.function.Consumer;

/**
 * A growable array with one writer at a time (the caller holds the store's append lock) and any
 * number of lock-free readers. The writer fills slots beyond {@code size}, then publishes them all at
 * once by writing the volatile {@code size}; a reader reads {@code size} first and then the array, so
 * it sees every slot below the size it read (a grown array is filled before it is published).
 */
final class AppendOnlyArray<T> {
    private final AppendOnlyArray<T> category;
    private volatile Object[] items = new Object[8];
    private volatile int size;

    /** @param category the array of the stream's category, for a stream's array; null otherwise */
    AppendOnlyArray(AppendOnlyArray<T> category) {
        this.category = category;
    }

    /** The array of this stream's category, so appends need not look it up; null when this is no stream. */
    AppendOnlyArray<T> category() {
        return category;
    }

    int size() {
        return size;
    }

    @SuppressWarnings("unchecked")
    T get(int index) {
        return (T) items[index];
    }

    /**
     * Grows the array, if need be, so that {@code count} more items fit without allocating; the caller
     * holds the writer lock. An append reserves room in every array it writes before writing any.
     */
    void reserve(int count) {
        Object[] array = items;
        int needed = size + count;
        if (needed > array.length) {
            items = Arrays.copyOf(array, Math.max(array.length * 2, needed));
        }
    }

    /** Appends and publishes the batch; the caller holds the writer lock (and reserved the room). */
    void addAll(T[] batch) {
        reserve(batch.length);
        int n = size;
        System.arraycopy(batch, 0, items, n, batch.length);
        size = n + batch.length;
    }

    /**
     * Up to {@code maxCount} items from index {@code from}, as an unmodifiable view without a copy: the
     * slots below a published size are never written again (a grown array is a new one), so the view
     * stays as it was when taken.
     */
    List<T> slice(long from, int maxCount) {
        return slice(from, maxCount, size);
    }

    /**
     * As {@link #slice(long, int)}, of the first {@code visible} items only: a reader that publishes
     * items by another size (the store's log) passes how many of these it may see, at most a size it
     * read from this array before.
     */
    List<T> slice(long from, int maxCount, int visible) {
        int n = visible;
        Object[] array = items;
        if (from >= n || maxCount == 0) {
            return List.of();
        }
        int start = (int) from;
        int end = (int) Math.min(n, (long) start + maxCount);
        return new Slice<>(array, start, end - start);
    }

    /** A read-only window on an array whose slots in the window never change. */
    private static final class Slice<T> extends AbstractList<T> implements RandomAccess {
        private final Object[] array;
        private final int offset;
        private final int size;

        Slice(Object[] array, int offset, int size) {
            this.array = array;
            this.offset = offset;
            this.size = size;
        }

        @Override
        @SuppressWarnings("unchecked")
        public T get(int index) {
            Objects.checkIndex(index, size);
            return (T) array[offset + index];
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        @SuppressWarnings("unchecked")
        public void forEach(Consumer<? super T> action) {
            for (int i = offset, end = offset + size; i < end; i++) {
                action.accept((T) array[i]);
            }
        }

        @Override
        public Iterator<T> iterator() {
            return new Iterator<>() {
                private int next = offset;
                private final int end = offset + size;

                @Override
                public boolean hasNext() {
                    return next < end;
                }

                @Override
                @SuppressWarnings("unchecked")
                public T next() {
                    if (next >= end) {
                        throw new NoSuchElementException();
                    }
                    return (T) array[next++];
                }
            };
        }
    }
}
