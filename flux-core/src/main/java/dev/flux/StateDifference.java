package dev.flux;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.PriorityBlockingQueue;

/**
 * Where a value read back from a snapshot differs from the value it was taken of: in a class (a subclass
 * read back as the declared class, a {@code TreeSet} as a {@code HashSet}), in the order of elements where
 * the order is kept (lists, sorted, linked and enum collections), in a comparator, or in a value. What
 * {@link AggregateSnapshots} checks before it stores a snapshot, so that a load from it never gives
 * another state than a replay.
 *
 * <p>Any JDK list matches any JDK list (a {@code List.of} comes back as an {@code ArrayList}), and a hashed set
 * or map ({@code HashSet}, {@code Set.of}, {@code HashMap}, ...), whose order nothing may rely on, matches any
 * JDK set or map with the same elements; a collection or map of an application class must come back as that
 * class, with its fields. JDK values are compared by their text ({@code 1E+2} is not {@code 100}), application
 * classes field by field ({@code transient} fields left out). An object of an application class with a field
 * that can change (not final, not transient) that the state reaches twice must come back as one object too:
 * replayed, a change through one place shows in the other. Not thread-safe: one per check, which may compare
 * several fields.
 */
final class StateDifference {
    /** Sets and maps the JDK hides behind {@code Collections}' factories, of no element or one. */
    private static final Set<String> UNORDERED_JDK_CLASSES = Set.of("java.util.Collections$EmptySet",
            "java.util.Collections$SingletonSet", "java.util.Collections$EmptyMap", "java.util.Collections$SingletonMap");

    /** The application objects being compared, each with what it is compared with: a cycle is the same when it closes alike. */
    private final Map<Object, Object> path = new IdentityHashMap<>();
    /** The application objects with a field that can change, compared so far, each with what it came back as and where. */
    private final Map<Object, Counterpart> counterparts = new IdentityHashMap<>();
    /** The application objects {@link #describe} is in, each with its depth: a cycle is described by the depth it returns to. */
    private final Map<Object, Integer> describing = new IdentityHashMap<>();

    private record Counterpart(Object back, String at) {
    }

    /**
     * The fields compared of each application class: those it and its application superclasses declare, but static,
     * transient and synthetic ones, made accessible (none for a JDK class).
     */
    private static final ClassValue<List<Field>> COMPARED_FIELDS = new ClassValue<>() {
        @Override
        protected List<Field> computeValue(Class<?> type) {
            List<Field> compared = new ArrayList<>();
            for (Class<?> c = type; c != null && !AggregateSnapshots.isJdk(c); c = c.getSuperclass()) {
                for (Field field : c.getDeclaredFields()) {
                    int modifiers = field.getModifiers();
                    if (!Modifier.isStatic(modifiers) && !Modifier.isTransient(modifiers) && !field.isSynthetic()) {
                        field.setAccessible(true);
                        compared.add(field);
                    }
                }
            }
            return List.copyOf(compared);
        }
    };

    /** Whether objects of the class have a compared field that is not final, which a handler could change. */
    private static final ClassValue<Boolean> CAN_CHANGE = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            return COMPARED_FIELDS.get(type).stream().anyMatch(field -> !Modifier.isFinal(field.getModifiers()));
        }
    };

    /**
     * Where {@code back} differs from {@code live}, starting at {@code at} (a field's name): a sentence
     * naming the place, or null when they are the same state.
     */
    static String find(Object live, Object back, String at) {
        return new StateDifference().between(live, back, at);
    }

    /**
     * As {@link #find}, for one of several fields of a state: an object of an application class that can change,
     * reached from two of them, must come back as one.
     */
    String between(Object live, Object back, String at) {
        return compare(live, back, at);
    }

    private String compare(Object live, Object back, String at) {
        if (live == null || back == null) {
            return live == back ? null : at + " is " + brief(live) + " but comes back as " + brief(back);
        }
        Class<?> liveClass = live.getClass();
        if (live instanceof List<?> list && AggregateSnapshots.isJdk(liveClass)) {
            return back instanceof List<?> other && AggregateSnapshots.isJdk(back.getClass())
                    ? compareInOrder(list, other, at) : classes(at, live, back);
        }
        if (hashed(liveClass)) {
            if ((live instanceof Set<?> ? !(back instanceof Set<?>) : !(back instanceof Map<?, ?>))
                    || !AggregateSnapshots.isJdk(back.getClass())) {
                return classes(at, live, back);
            }
            if (((live instanceof Set<?> set) ? set.size() : ((Map<?, ?>) live).size())
                    == ((back instanceof Set<?> other) ? other.size() : ((Map<?, ?>) back).size())
                    && keysAreValues(live)) {
                return compareByKey(live, back, at);
            }
            List<String> liveElements = sortedDescriptions(live);
            List<String> backElements = sortedDescriptions(back);
            if (liveElements.equals(backElements)) {
                return null;
            }
            if (live instanceof Map<?, ?> map) {     // name the entry that differs, when its key finds it
                Map<?, ?> other = (Map<?, ?>) back;
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    String difference = other.containsKey(entry.getKey())
                            ? compare(entry.getValue(), other.get(entry.getKey()), at + "[" + entry.getKey() + "]") : null;
                    if (difference != null) {
                        return difference;
                    }
                }
            }
            return at + " holds " + abbreviated(liveElements) + " but comes back holding " + abbreviated(backElements);
        }
        if (liveClass != back.getClass()) {
            return classes(at, live, back);
        }
        if (comparator(live) != null) {
            return at + " is a " + liveClass.getName() + " sorted by " + comparator(live).getClass().getName()
                    + ", which a snapshot does not keep (it comes back in natural order)";
        }
        if (live instanceof Collection<?> collection) {
            String difference = compareInOrder(collection, (Collection<?>) back, at);
            return difference != null ? difference : compareFields(live, back, at);
        }
        if (live instanceof Map<?, ?> map) {
            String difference = compareInOrder(map.entrySet(), ((Map<?, ?>) back).entrySet(), at);
            return difference != null ? difference : compareFields(live, back, at);
        }
        if (live instanceof Map.Entry<?, ?> entry) {
            Map.Entry<?, ?> other = (Map.Entry<?, ?>) back;
            String key = compare(entry.getKey(), other.getKey(), at + " key");
            return key != null ? key : compare(entry.getValue(), other.getValue(), at + "[" + entry.getKey() + "]");
        }
        if (liveClass.isArray()) {
            return compareArrays(live, back, at);
        }
        if (live instanceof Optional<?> optional) {
            return compare(optional.orElse(null), ((Optional<?>) back).orElse(null), at + ".get()");
        }
        if (live instanceof Enum<?> || AggregateSnapshots.isJdk(liveClass)) {
            return live.equals(back) || String.valueOf(live).equals(String.valueOf(back)) ? null
                    : at + " is " + live + " but comes back as " + back;
        }
        return compareFields(live, back, at);
    }

    /**
     * Compares the fields application classes declare in {@code live}'s class and its superclasses (none for a JDK
     * class), {@code back} being of the same class.
     */
    private String compareFields(Object live, Object back, String at) {
        Class<?> liveClass = live.getClass();
        if (AggregateSnapshots.isJdk(liveClass)) {
            return null;
        }
        if (path.containsKey(live)) {       // a cycle: the same when it closes on the same object on both sides
            return path.get(live) == back ? null : at + " refers to an object that holds it, which comes back otherwise";
        }
        if (CAN_CHANGE.get(liveClass)) {
            Counterpart seen = counterparts.putIfAbsent(live, new Counterpart(back, at));
            if (seen != null) {
                return seen.back() == back ? null : at + " and " + seen.at() + " hold one " + liveClass.getName()
                        + ", which comes back from a snapshot as two: replayed, a change through one shows in the other"
                        + " (if nothing changes it, make its fields final, or it a record)";
            }
        }
        path.put(live, back);
        try {
            for (Field field : COMPARED_FIELDS.get(liveClass)) {
                String difference = compare(get(field, live), get(field, back), at + "." + field.getName());
                if (difference != null) {
                    return difference;
                }
            }
            return null;
        } finally {
            path.remove(live);
        }
    }

    private String compareInOrder(Collection<?> live, Collection<?> back, String at) {
        if (live.size() != back.size()) {
            return at + " holds " + live.size() + " elements but comes back with " + back.size();
        }
        Iterator<?> backElements = back.iterator();
        int i = 0;
        for (Object element : live) {
            Object backElement = backElements.next();
            String difference = sameValue(element, backElement) ? null : compare(element, backElement, at + "[" + i + "]");
            if (difference != null) {
                return difference;
            }
            i++;
        }
        return null;
    }

    private String compareArrays(Object live, Object back, String at) {
        int length = Array.getLength(live);
        if (length != Array.getLength(back)) {
            return at + " holds " + length + " elements but comes back with " + Array.getLength(back);
        }
        for (int i = 0; i < length; i++) {
            String difference = compare(Array.get(live, i), Array.get(back, i), at + "[" + i + "]");
            if (difference != null) {
                return difference;
            }
        }
        return null;
    }

    /**
     * Whether the elements of a hashed set, or the keys of a hashed map, are JDK values or enum constants,
     * which {@code equals} tells apart by class and value, so that the other side's can be found by lookup.
     */
    private static boolean keysAreValues(Object container) {
        for (Object key : container instanceof Map<?, ?> map ? map.keySet() : (Set<?>) container) {
            if (key != null && !isValue(key)) {
                return false;
            }
        }
        return true;
    }

    /** Compares hashed containers of the same size whose keys are values (see {@link #keysAreValues}) by lookup. */
    private String compareByKey(Object live, Object back, String at) {
        if (live instanceof Set<?> set) {
            Set<?> other = (Set<?>) back;
            for (Object element : set) {
                if (!other.contains(element)) {
                    return at + " holds " + element + ", which does not come back";
                }
            }
            return null;
        }
        Map<?, ?> other = (Map<?, ?>) back;
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) live).entrySet()) {
            Object key = entry.getKey();
            if (!other.containsKey(key)) {
                return at + " holds the key " + key + ", which does not come back";
            }
            Object value = entry.getValue();
            Object backValue = other.get(key);
            String difference = sameValue(value, backValue) ? null : compare(value, backValue, at + "[" + key + "]");
            if (difference != null) {
                return difference;
            }
        }
        return null;
    }

    /** Whether both are the same JDK value or enum constant: what most elements are, checked without building their place's name. */
    private static boolean sameValue(Object live, Object back) {
        return live != null && back != null && live.getClass() == back.getClass() && isValue(live) && live.equals(back);
    }

    /** A JDK value or an enum constant: not a container, whose {@code equals} compares class and value. */
    private static boolean isValue(Object value) {
        return value instanceof Enum<?> || AggregateSnapshots.isJdk(value.getClass()) && !(value instanceof Collection<?>
                || value instanceof Map<?, ?> || value instanceof Optional<?> || value.getClass().isArray());
    }

    /** The descriptions of a hashed set's elements or a map's entries, sorted, so that their order does not count. */
    private List<String> sortedDescriptions(Object container) {
        Collection<?> elements = container instanceof Map<?, ?> map ? map.entrySet() : (Collection<?>) container;
        List<String> descriptions = new ArrayList<>(elements.size());
        for (Object element : elements) {
            StringBuilder out = new StringBuilder();
            describe(element, out);
            descriptions.add(out.toString());
        }
        Collections.sort(descriptions);
        return descriptions;
    }

    /** A text that two values share exactly when {@link #compare} finds no difference between them. */
    private void describe(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
            return;
        }
        Class<?> c = value.getClass();
        if (value instanceof List<?> list && AggregateSnapshots.isJdk(c)) {
            describeAll(list, "List", out);
        } else if (hashed(c)) {
            out.append(value instanceof Set<?> ? "Set" : "Map").append(sortedDescriptions(value));
        } else if (value instanceof Collection<?> collection) {
            describeAll(collection, c.getName() + comparatorOf(value), out);
            describeFields(value, out);
        } else if (value instanceof Map<?, ?> map) {
            describeAll(map.entrySet(), c.getName() + comparatorOf(value), out);
            describeFields(value, out);
        } else if (value instanceof Map.Entry<?, ?> entry) {
            describe(entry.getKey(), out);
            out.append('=');
            describe(entry.getValue(), out);
        } else if (c.isArray()) {
            List<Object> elements = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) {
                elements.add(Array.get(value, i));
            }
            describeAll(elements, c.getName(), out);
        } else if (value instanceof Optional<?> optional) {
            out.append("Optional(");
            describe(optional.orElse(null), out);
            out.append(')');
        } else if (value instanceof Enum<?> constant) {
            out.append(constant.getDeclaringClass().getName()).append('.').append(constant.name());
        } else if (AggregateSnapshots.isJdk(c)) {
            out.append(c.getName()).append('(').append(value).append(')');
        } else {
            describeFields(value, out);
        }
    }

    /** The fields application classes declare in {@code value}'s class and its superclasses, none for a JDK class. */
    private void describeFields(Object value, StringBuilder out) {
        Class<?> c = value.getClass();
        if (AggregateSnapshots.isJdk(c)) {
            return;
        }
        Integer depth = describing.get(value);
        if (depth != null) {
            out.append("^").append(depth);
            return;
        }
        describing.put(value, describing.size());
        out.append(c.getName()).append('{');
        for (Field field : COMPARED_FIELDS.get(c)) {
            out.append(field.getName()).append('=');
            describe(get(field, value), out);
            out.append(',');
        }
        out.append('}');
        describing.remove(value);
    }

    private void describeAll(Collection<?> elements, String kind, StringBuilder out) {
        out.append(kind).append('[');
        for (Object element : elements) {
            describe(element, out);
            out.append(',');
        }
        out.append(']');
    }

    private static String comparatorOf(Object sorted) {
        Object comparator = comparator(sorted);
        return comparator == null ? "" : " by " + comparator.getClass().getName();
    }

    /** The comparator a sorted set or map, or a priority queue, orders by; null for natural order, or none. */
    private static Object comparator(Object value) {
        return value instanceof SortedSet<?> set ? set.comparator() : value instanceof SortedMap<?, ?> map ? map.comparator()
                : value instanceof PriorityQueue<?> queue ? queue.comparator()
                : value instanceof PriorityBlockingQueue<?> queue ? queue.comparator() : null;
    }

    /** A set or map whose order is its hash order, which nothing may rely on (or that has no order: empty, one element). */
    private static boolean hashed(Class<?> c) {
        return c == HashSet.class || c == HashMap.class || c == Hashtable.class || c == ConcurrentHashMap.class
                || c == ConcurrentHashMap.KeySetView.class || UNORDERED_JDK_CLASSES.contains(c.getName())
                || c.getName().startsWith("java.util.ImmutableCollections$Set")
                || c.getName().startsWith("java.util.ImmutableCollections$Map");
    }

    private static Object get(Field field, Object owner) {
        try {
            return field.get(owner);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read " + field + " to check the snapshot", e);
        }
    }

    private static String classes(String at, Object live, Object back) {
        return at + " holds a " + live.getClass().getName() + ", which comes back from a snapshot as a " + back.getClass().getName();
    }

    private static String brief(Object value) {
        return value == null ? "null" : "a " + value.getClass().getName();
    }

    private static String abbreviated(List<String> elements) {
        String text = elements.toString();
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }
}
