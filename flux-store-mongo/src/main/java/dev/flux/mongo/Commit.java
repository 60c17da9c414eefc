package dev.flux.mongo;

import com.mongodb.client.model.Aggregates;
import com.mongodb.client.model.Filters;
import dev.flux.EventData;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import org.bson.BsonArray;
import org.bson.BsonBinary;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonInt32;
import org.bson.BsonInt64;
import org.bson.BsonString;
import org.bson.BsonValue;
import org.bson.conversions.Bson;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The document of one append (a commit) and the events read back from it. The layout is described
 * in {@link MongoEventStore}'s Javadoc; field names are constants here so queries and indexes use
 * the same ones.
 */
final class Commit {
    static final String LAST_POSITION = "_id";
    static final String FIRST_POSITION = "firstPosition";
    static final String STREAM = "stream";
    static final String CATEGORY = "category";
    static final String FIRST_VERSION = "firstVersion";
    static final String LAST_VERSION = "lastVersion";
    static final String RECORDED_AT = "recordedAt";
    static final String EVENTS = "events";
    static final String EVENT_ID = "id";
    static final String EVENT_IDS = EVENTS + "." + EVENT_ID;
    private static final String TYPE = "type";
    private static final String DATA = "data";
    private static final String METADATA = "metadata";
    /** The fields of what {@link #lookup} answers besides the commit's: the event's index in the commit, and the event. */
    private static final String INDEX = "index";
    private static final String EVENT = "event";
    /** The field of what {@link #takenIds} answers: the ids asked for that the commit holds. */
    private static final String TAKEN = "taken";

    private Commit() {
    }

    /**
     * The commit document for {@code events}, appended at these versions; {@link #placeAt} sets its positions and
     * time when its turn to be inserted comes.
     */
    static BsonDocument document(String streamId, String category, long firstVersion, List<EventData> events) {
        BsonArray array = new BsonArray(new ArrayList<>(events.size()));
        for (EventData event : events) {
            BsonArray metadata = new BsonArray(new ArrayList<>(event.metadata().size()));
            for (Map.Entry<String, String> entry : event.metadata().entrySet()) {
                // Pairs, not a sub-document: metadata keys are user strings and may hold '.' or '$'.
                metadata.add(new BsonArray(List.of(new BsonString(entry.getKey()), new BsonString(entry.getValue()))));
            }
            array.add(new BsonDocument(EVENT_ID, uuid(event.eventId()))
                    .append(TYPE, new BsonString(event.type()))
                    .append(DATA, new BsonBinary(event.data()))
                    .append(METADATA, metadata));
        }
        int n = events.size();
        return new BsonDocument(LAST_POSITION, new BsonInt64(n))
                .append(FIRST_POSITION, new BsonInt64(1))
                .append(STREAM, new BsonString(streamId))
                .append(CATEGORY, new BsonString(category))
                .append(FIRST_VERSION, new BsonInt64(firstVersion))
                .append(LAST_VERSION, new BsonInt64(firstVersion + n - 1))
                .append(RECORDED_AT, new BsonDateTime(0))
                .append(EVENTS, array);
    }

    /** Sets the global positions and the time of a commit document made by {@link #document}. */
    static void placeAt(BsonDocument commit, long firstPosition, int eventCount, BsonDateTime recordedAt) {
        commit.put(LAST_POSITION, new BsonInt64(firstPosition + eventCount - 1));
        commit.put(FIRST_POSITION, new BsonInt64(firstPosition));
        commit.put(RECORDED_AT, recordedAt);
    }

    /** When the commit was recorded (milliseconds since the epoch), or {@code Long.MIN_VALUE} when it holds no date. */
    static long recordedAtMillis(BsonDocument commit) {
        BsonValue value = commit.get(RECORDED_AT);
        return value != null && value.isDateTime() ? value.asDateTime().getValue() : Long.MIN_VALUE;
    }

    /** An over-estimate of the document's BSON size: strings at 3 bytes a character. */
    static long estimatedSize(BsonDocument commit) {
        long size = 512 + 6L * commit.getString(STREAM).getValue().length();
        for (BsonValue value : commit.getArray(EVENTS)) {
            BsonDocument event = value.asDocument();
            size += 96 + event.getBinary(DATA).getData().length + 3L * event.getString(TYPE).getValue().length();
            for (BsonValue pair : event.getArray(METADATA)) {
                BsonArray kv = pair.asArray();
                size += 32 + 3L * (kv.get(0).asString().getValue().length() + kv.get(1).asString().getValue().length());
            }
        }
        return size;
    }

    /** An event id as MongoDB's standard UUID binary (subtype 4), whatever the client's UUID setting. */
    static BsonBinary uuid(UUID id) {
        return new BsonBinary(id);
    }

    /**
     * Adds the commit's events at positions {@code > afterPosition} and versions {@code >= fromVersion}
     * to {@code into}, until it is full.
     *
     * @param firstIndex the index in the commit of the first event the document holds: 0, unless it was read
     *                   with a slice of its events
     * @param where      the collection, for the message when the document is not a commit
     * @throws FluxException naming the document when it is not a commit this store wrote
     */
    static void addEvents(BsonDocument commit, long firstIndex, long afterPosition, long fromVersion, Page into,
                          String where) {
        long position = int64(commit, FIRST_POSITION, where) + firstIndex;
        long version = int64(commit, FIRST_VERSION, where) + firstIndex;
        String streamId = null;
        try {
            streamId = commit.getString(STREAM).getValue();
            Instant recordedAt = Instant.ofEpochMilli(commit.getDateTime(RECORDED_AT).getValue());
            for (BsonValue value : commit.getArray(EVENTS)) {
                if (into.isFull()) {
                    return;
                }
                if (position > afterPosition && version >= fromVersion) {
                    into.add(event(value.asDocument(), streamId, version, position, recordedAt));
                }
                position++;
                version++;
            }
        } catch (RuntimeException e) {
            throw unreadable(commit, where, (streamId == null ? "" : "at stream '" + streamId + "' version " + version
                    + ": ") + e.getMessage(), e);
        }
    }

    /** How many events the commit holds, by its positions. */
    static long size(BsonDocument commit, String where) {
        return int64(commit, LAST_POSITION, where) - int64(commit, FIRST_POSITION, where) + 1;
    }

    /**
     * The aggregation that finds the event with this id, answering one document: the fields of the commit holding
     * it that the event needs ({@link #located}), the event's index in the commit and that event alone, so a commit
     * of many events is not sent whole for one of them. A positional {@code events.$} or {@code $elemMatch}
     * projection would send the event without its index, which its version and position are counted from.
     */
    static List<Bson> lookup(UUID eventId) {
        BsonBinary id = uuid(eventId);
        // A document whose events are not an array matches "events.id" too: it gets no index, and located() names it.
        BsonDocument isArray = new BsonDocument("$isArray", new BsonString("$" + EVENTS));
        BsonDocument ids = new BsonDocument("$cond", new BsonArray(List.of(isArray, new BsonString("$" + EVENT_IDS),
                new BsonArray())));
        BsonDocument events = new BsonDocument("$cond", new BsonArray(List.of(isArray, new BsonString("$" + EVENTS),
                new BsonArray())));
        return List.of(
                Aggregates.match(Filters.eq(EVENT_IDS, id)),
                Aggregates.limit(1),
                Aggregates.project(eventFields()
                        .append(INDEX, new BsonDocument("$indexOfArray", new BsonArray(List.of(ids, id))))
                        .append(EVENTS, events)),
                Aggregates.project(eventFields()
                        .append(INDEX, new BsonInt32(1))
                        .append(EVENT, new BsonDocument("$arrayElemAt", new BsonArray(List.of(new BsonString("$" + EVENTS),
                                new BsonString("$" + INDEX)))))));
    }

    /** The fields of a commit that its events need besides their own. */
    private static BsonDocument eventFields() {
        BsonInt32 include = new BsonInt32(1);
        return new BsonDocument(FIRST_POSITION, include).append(STREAM, include).append(FIRST_VERSION, include)
                .append(RECORDED_AT, include);
    }

    /**
     * The event with this id, from what {@link #lookup} found.
     *
     * @throws FluxException naming the document when it is not a commit this store wrote
     */
    static RecordedEvent located(BsonDocument found, UUID eventId, String where) {
        long position = int64(found, FIRST_POSITION, where);
        long version = int64(found, FIRST_VERSION, where);
        BsonValue index = found.get(INDEX);
        BsonValue event = found.get(EVENT);
        String notHeld = "found for event id " + eventId + ", its '" + EVENTS + "' array does not hold an event of that id";
        if (index == null || !index.isNumber() || index.asNumber().longValue() < 0 || event == null || !event.isDocument()) {
            throw unreadable(found, where, notHeld, null);
        }
        long at = index.asNumber().longValue();
        RecordedEvent recorded;
        try {
            recorded = event(event.asDocument(), found.getString(STREAM).getValue(), version + at, position + at,
                    Instant.ofEpochMilli(found.getDateTime(RECORDED_AT).getValue()));
        } catch (RuntimeException e) {
            throw unreadable(found, where, e.getMessage(), e);
        }
        if (!recorded.eventId().equals(eventId)) {
            throw unreadable(found, where, notHeld, null);
        }
        return recorded;
    }

    /**
     * The aggregation that finds a commit holding any of these event ids and answers its {@code _id} and, in
     * {@code taken}, which of them it holds: the ids alone, not the commit (whose events may be thousands of
     * megabyte-sized ones).
     */
    static List<Bson> takenIds(List<UUID> eventIds) {
        BsonArray ids = new BsonArray(new ArrayList<>(eventIds.size()));
        eventIds.forEach(id -> ids.add(uuid(id)));
        BsonDocument isArray = new BsonDocument("$isArray", new BsonString("$" + EVENTS));
        BsonDocument held = new BsonDocument("$cond", new BsonArray(List.of(isArray, new BsonString("$" + EVENT_IDS),
                new BsonArray())));
        return List.of(
                Aggregates.match(Filters.in(EVENT_IDS, ids)),
                Aggregates.limit(1),
                Aggregates.project(new BsonDocument(TAKEN, new BsonDocument("$setIntersection",
                        new BsonArray(List.of(held, ids))))));
    }

    /**
     * The ids {@link #takenIds} found taken.
     *
     * @throws FluxException naming the document when it is not a commit this store wrote
     */
    static Set<UUID> taken(BsonDocument found, String where) {
        try {
            Set<UUID> ids = new HashSet<>();
            for (BsonValue value : found.getArray(TAKEN)) {
                ids.add(value.asBinary().asUuid());
            }
            return ids;
        } catch (RuntimeException e) {
            throw unreadable(found, where, "its '" + EVENT_IDS + "' are not UUIDs: " + e.getMessage(), e);
        }
    }

    /**
     * A field of a commit document that holds an int64 (a position or a version).
     *
     * @throws FluxException naming the document and the field when the field is missing or of another type
     */
    static long int64(BsonDocument commit, String field, String where) {
        BsonValue value = commit.get(field);
        if (value == null || !value.isInt64()) {
            throw unreadable(commit, where, "its field '" + field + "' is " + (value == null ? "missing"
                    : "a " + value.getBsonType() + ", not an int64"), null);
        }
        return value.asInt64().getValue();
    }

    /**
     * The error for a document in the events collection that is not a commit this store wrote: a program
     * other than flux, or a hand edit, put it there, and the reads (or appends) that meet it cannot go on.
     */
    private static FluxException unreadable(BsonDocument commit, String where, String what, Throwable cause) {
        BsonValue id = commit.get(LAST_POSITION);
        return new FluxException("Unreadable commit document " + (id == null ? "without _id"
                : new BsonDocument(LAST_POSITION, id).toJson()) + " in " + where + ": " + what
                + ". It was not written by this version of MongoEventStore: move it out of the collection"
                + " (the store keeps nothing but its commits there)", cause);
    }

    private static RecordedEvent event(BsonDocument event, String streamId, long version, long position,
                                       Instant recordedAt) {
        BsonArray pairs = event.getArray(METADATA);
        Map<String, String> metadata = new LinkedHashMap<>(pairs.size() * 2);
        for (BsonValue pair : pairs) {
            BsonArray kv = pair.asArray();
            metadata.put(kv.get(0).asString().getValue(), kv.get(1).asString().getValue());
        }
        return new RecordedEvent(streamId, version, position, event.getBinary(EVENT_ID).asUuid(),
                event.getString(TYPE).getValue(), event.getBinary(DATA).getData(), metadata, recordedAt);
    }
}
