package dev.flux.snapshot;

import dev.flux.StreamName;
import dev.flux.Utf8;

import java.time.Instant;
import java.util.Arrays;

/**
 * An aggregate's state as of one version of its stream: a cache that spares replaying the events up
 * to that version. Never the truth: a snapshot that cannot be read is ignored and the aggregate is
 * rebuilt from its events.
 *
 * @param streamId the aggregate's stream
 * @param version  the version of the last event the state includes
 * @param type     what wrote the state (the aggregate class and a fingerprint of its fields): a
 *                 snapshot of another type is ignored
 * @param data     the state, as JSON
 * @param takenAt  when it was taken
 */
public record Snapshot(String streamId, long version, String type, byte[] data, Instant takenAt) {
    public Snapshot {
        if (streamId == null || streamId.isBlank() || type == null || type.isBlank() || data == null || takenAt == null) {
            throw new IllegalArgumentException("a snapshot needs a stream id, type, data and time, got stream " + streamId
                    + ", type " + type + ", data " + (data == null ? "null" : data.length + " bytes") + ", takenAt " + takenAt);
        }
        if (version < 0) {
            throw new IllegalArgumentException("snapshot version must be >= 0, was " + version + " (stream " + streamId + ")");
        }
        StreamName.requireStreamId(streamId);
        Utf8.requireEncodable(type, "type of the snapshot of", streamId);
        data = data.clone();
    }

    /** A copy of the state's bytes. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Snapshot s && streamId.equals(s.streamId) && version == s.version && type.equals(s.type)
                && Arrays.equals(data, s.data) && takenAt.equals(s.takenAt);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * streamId.hashCode() + Long.hashCode(version)) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Snapshot[" + streamId + "@" + version + ", " + type + ", " + data.length + " bytes, " + takenAt + "]";
    }
}
