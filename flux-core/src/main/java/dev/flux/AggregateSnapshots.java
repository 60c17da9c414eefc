package dev.flux;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Takes and restores snapshots of one aggregate class for a {@link Repository}. The state is every
 * non-static, non-transient field the class and its superclasses up to {@link Aggregate} declare,
 * each written by Jackson with its declared type under {@code DeclaringClass.field}. The snapshot's
 * type is the class name plus a fingerprint of those fields (names and types), so a snapshot taken
 * before the class changed shape is ignored rather than restored wrongly.
 */
final class AggregateSnapshots {
    private static final System.Logger LOG = System.getLogger(AggregateSnapshots.class.getName());

    private record StateField(String key, Field field, ObjectReader reader, JavaType type) {
    }

    private final SnapshotStore store;
    private final SnapshotPolicy policy;
    private final ObjectMapper mapper;
    private final List<StateField> fields = new ArrayList<>();
    private final String type;

    AggregateSnapshots(Class<? extends Aggregate> aggregateClass, SnapshotStore store, SnapshotPolicy policy, ObjectMapper mapper) {
        this.store = store;
        this.policy = policy;
        this.mapper = mapper;
        StringBuilder shape = new StringBuilder();
        for (Class<?> c = aggregateClass; c != Aggregate.class; c = c.getSuperclass()) {
            for (Field field : c.getDeclaredFields()) {
                int modifiers = field.getModifiers();
                if (Modifier.isStatic(modifiers) || Modifier.isTransient(modifiers) || field.isSynthetic()) {
                    continue;
                }
                try {
                    field.setAccessible(true);
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": field " + field
                            + " is not accessible (open its package to flux, or mark it transient)", e);
                }
                JavaType javaType = mapper.getTypeFactory().constructType(field.getGenericType());
                String key = c.getSimpleName() + "." + field.getName();
                fields.add(new StateField(key, field, mapper.readerFor(javaType), javaType));
                shape.append(key).append(':').append(field.getGenericType().getTypeName()).append(';');
            }
        }
        this.type = aggregateClass.getName() + "#" + fingerprint(shape.toString());
    }

    /**
     * Restores {@code aggregate} from the stream's snapshot and returns the version to replay from:
     * the snapshot's version + 1, or 0 when there is no usable snapshot (nothing is changed then).
     * The event at the snapshot's version must exist, which guards against a snapshot of a stream
     * that was since reset.
     */
    long restore(Aggregate aggregate, String streamId, EventReader events) {
        Optional<Snapshot> found;
        try {
            found = store.load(streamId);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot load the snapshot of " + streamId + ", replaying every event: " + e, e);
            return 0;
        }
        if (found.isEmpty()) {
            return 0;
        }
        Snapshot snapshot = found.get();
        if (!type.equals(snapshot.type())) {
            LOG.log(System.Logger.Level.INFO, () -> "ignoring the snapshot of " + streamId + "@" + snapshot.version()
                    + ": it was taken by " + snapshot.type() + ", this is " + type + " (the class changed); replaying every event");
            return 0;
        }
        List<RecordedEvent> last = events.readStream(streamId, snapshot.version(), 1);
        if (last.isEmpty() || last.get(0).version() != snapshot.version()) {
            LOG.log(System.Logger.Level.WARNING, () -> "ignoring the snapshot of " + streamId + "@" + snapshot.version()
                    + ": the stream has no event at that version; replaying every event");
            return 0;
        }
        List<Object> values = new ArrayList<>(fields.size());
        try {
            JsonNode root = mapper.readTree(snapshot.data());
            if (!(root instanceof ObjectNode state) || state.size() != fields.size()) {
                throw new IOException("the state does not hold exactly the fields " + keys());
            }
            for (StateField f : fields) {
                JsonNode node = state.get(f.key());
                if (node == null) {
                    throw new IOException("the state has no field " + f.key());
                }
                values.add(f.reader().readValue(node));
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "ignoring the unreadable snapshot of " + streamId + "@" + snapshot.version()
                    + " (" + e.getMessage() + "); replaying every event");
            return 0;
        }
        try {
            for (int i = 0; i < fields.size(); i++) {
                fields.get(i).field().set(aggregate, values.get(i));
            }
        } catch (IllegalAccessException e) {
            throw new FluxException("cannot restore " + aggregate.getClass().getName() + " from its snapshot", e);
        }
        aggregate.restoredFromSnapshot(snapshot.version());
        return snapshot.version() + 1;
    }

    /** After a save: takes a snapshot when the policy says so; a failure is logged, never thrown. */
    void afterSave(Aggregate aggregate, String streamId) {
        long version = aggregate.version();
        try {
            if (!policy.shouldSnapshot(aggregate.snapshotVersion(), version)) {
                return;
            }
            ObjectNode state = mapper.createObjectNode();
            for (StateField f : fields) {
                state.set(f.key(), mapper.valueToTree(f.field().get(aggregate)));
            }
            store.save(new Snapshot(streamId, version, type, mapper.writeValueAsBytes(state), Instant.now()));
            aggregate.snapshotTaken(version);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot snapshot " + streamId + "@" + version
                    + " (the save itself succeeded): " + e, e);
        }
    }

    /** The snapshot type this class writes. */
    String type() {
        return type;
    }

    private List<String> keys() {
        return fields.stream().map(StateField::key).toList();
    }

    private static String fingerprint(String shape) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(shape.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
