package dev.flux.snapshot;

/**
 * When a repository takes a snapshot after a successful save.
 */
@FunctionalInterface
public interface SnapshotPolicy {

    /**
     * Whether to snapshot the aggregate now.
     *
     * @param lastSnapshotVersion the version of the snapshot it was loaded from or last saved, -1 when none;
     *                            or the version of the last one due but not stored (the repository found the
     *                            state would not come back alike, or the snapshot store failed), so that such a
     *                            state is tried again as many events later as after a snapshot, not on every save
     * @param version             its version after the save
     */
    boolean shouldSnapshot(long lastSnapshotVersion, long version);

    /**
     * A snapshot once {@code events} events have been saved since the last one (or since the start).
     *
     * @throws IllegalArgumentException when {@code events} is below 1
     */
    static SnapshotPolicy everyEvents(int events) {
        if (events < 1) {
            throw new IllegalArgumentException("events must be >= 1, was " + events);
        }
        return (lastSnapshotVersion, version) -> version - lastSnapshotVersion >= events;
    }

    /** Never: snapshots are read, but none are taken (say, while a class is being changed). */
    static SnapshotPolicy never() {
        return (lastSnapshotVersion, version) -> false;
    }
}
