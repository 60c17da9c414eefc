package dev.flux;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The {@link EventReader#onAppend} listeners of a store that can tell its readers of appends (one in
 * this process): {@link #add} is what {@code onAppend} returns, and the store calls {@link #appended}
 * after each append is visible. A listener that throws is logged and the others still run: the append
 * stands. A {@link StreamListener} is told only of appends to the streams it {@linkplain
 * StreamListener#wants wants}. Thread-safe; a store of your own can keep its listeners in one.
 */
public final class AppendListeners {
    private static final System.Logger LOG = System.getLogger(AppendListeners.class.getName());

    private final List<Added> listeners = new CopyOnWriteArrayList<>();

    /**
     * An {@link EventReader#onAppend} listener that cares about appends to some streams only, as a
     * subscription to one stream or one category does: {@link AppendListeners} does not run it for the
     * others, so an append wakes only the readers it concerns. Running it anyway is never wrong, only
     * wasted (a store that does not keep its listeners here, or a decorator that wraps them, may).
     */
    public interface StreamListener extends Runnable {
        /**
         * Whether an append to {@code streamId} concerns this listener. Runs on the appending thread
         * for every append: it must be quick, and not throw.
         */
        boolean wants(String streamId);
    }

    /**
     * Adds {@code listener}; returns what removes it. That removes this one addition only (a listener
     * added twice is told twice until both are removed), and running it again does nothing.
     *
     * @throws IllegalArgumentException when the listener is null
     */
    public Runnable add(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        Added added = new Added(listener);
        listeners.add(added);
        return () -> listeners.remove(added);
    }

    /**
     * Runs every listener, on this thread, after an append to {@code streamId} became visible: each but
     * the {@link StreamListener}s that do not want that stream.
     *
     * @throws IllegalArgumentException when the stream id is null or blank; no listener runs then
     */
    public void appended(String streamId) {
        StreamName.requirePresent(streamId);
        for (Added added : listeners) {
            try {
                if (!(added.listener instanceof StreamListener interested) || interested.wants(streamId)) {
                    added.listener.run();
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "An append listener failed after an append to " + streamId
                        + " had committed; the append stands", e);
            }
        }
    }

    /** One addition of a listener, equal only to itself, so that its remover leaves the others alone. */
    private static final class Added {
        private final Runnable listener;

        Added(Runnable listener) {
            this.listener = listener;
        }
    }
}
