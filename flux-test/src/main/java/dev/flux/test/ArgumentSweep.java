package dev.flux.test;

import org.junit.jupiter.api.Assertions;

import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Calls every public constructor and method of some classes with one bad argument at a time, the
 * others valid, and reports each call that does not fail at once with an
 * {@link IllegalArgumentException} whose message names the parameter. The bad arguments are a null
 * reference, a blank string ({@code ""} and {@code "  "}), a negative {@code int} (-1) or {@code long}
 * (-3, below {@link dev.flux.ExpectedVersion#ANY}), an empty list, an array or list holding null, and
 * a map holding a null value. Guava's {@code NullPointerTester} does the same for nulls alone.
 *
 * <pre>{@code
 * List<String> problems = ArgumentSweep.of(ArgumentSweep.publicClassesBeside(MyStore.class, "com.acme.store."))
 *         .sample(String.class, () -> "sample")
 *         .sample("streamId", String.class, () -> "Sample-1")
 *         .receiver(MyStore.class, MyStore::new, store -> store.readAll(0, 100))
 *         .allow("null:MyStore.append(metadata)", "null metadata is none")
 *         .run();
 * assertEquals(List.of(), problems, String.join("\n", problems));
 * }</pre>
 *
 * <p>A message names the parameter when it holds its name, the name split into words
 * ({@code streamId}: "stream id"), or a word given by {@link #alias}. Parameter names come from the
 * class files, so the classes must be compiled with {@code -parameters}. A refused call must also
 * leave its receiver as it was, as far as the receiver's state function tells. A bad value that
 * {@link #allow} lets through must instead be accepted: the call must return normally.
 *
 * <p>Instance methods run on a fresh receiver each, made by the suppliers given to {@link #receiver};
 * an interface's methods run on each receiver of that interface, and {@link #defaultsOf} reaches its
 * default methods. The other arguments come from {@link #sample}, by parameter name and type first,
 * then by type; numbers default to 1. An instance method of a class without a receiver, or a
 * parameter without a sample, is reported as a problem: a new public method cannot slip past the
 * sweep. Left out: exceptions (which take messages and causes as {@link Throwable} does), annotations,
 * JUnit suites, {@code equals}, an enum's {@code values} and {@code valueOf}, methods without
 * parameters, and the abstract methods of {@link #callback} interfaces.
 *
 * <p>Not thread-safe; one sweep per test.
 */
public final class ArgumentSweep {
    private static final Object NO_SAMPLE = new Object();

    /** What is wrong with an argument; its key in {@link #allow} is its name in lower case, {@code _} as a space. */
    private enum Bad { NULL, BLANK, NEGATIVE, EMPTY, NULL_ELEMENT, NULL_VALUE }

    private record Receiver(Supplier<?> instance, Function<Object, ?> state, boolean defaultsOnly) {
    }

    private final List<Class<?>> classes;
    private final Map<Class<?>, Supplier<?>> samplesByType = new HashMap<>();
    private final Map<String, Supplier<?>> samplesByName = new HashMap<>();
    private final Map<Class<?>, List<Receiver>> receivers = new HashMap<>();
    private final Set<Class<?>> callbacks = new HashSet<>();
    private final Map<String, String> allowed = new HashMap<>();
    private final Map<String, List<String>> aliases = new HashMap<>();
    private final Set<String> allowedMet = new HashSet<>();
    private final List<String> problems = new ArrayList<>();
    private int calls;

    private ArgumentSweep(List<Class<?>> classes) {
        this.classes = classes;
    }

    /**
     * A sweep of these classes' public constructors and methods.
     *
     * @throws IllegalArgumentException when the collection is null or empty, or a class in it is null
     */
    public static ArgumentSweep of(Collection<Class<?>> classes) {
        require(classes, "classes");
        if (classes.isEmpty()) {
            throw new IllegalArgumentException("classes must not be empty: there would be nothing to sweep");
        }
        List<Class<?>> copy = new ArrayList<>(classes);
        for (int i = 0; i < copy.size(); i++) {
            if (copy.get(i) == null) {
                throw new IllegalArgumentException("classes[" + i + "] must not be null");
            }
        }
        return new ArgumentSweep(copy);
    }

    /**
     * The public classes, nested ones too when every enclosing class is public, of the jar or class
     * directory {@code anchor} was loaded from, in packages whose names start with {@code packagePrefix}
     * ({@code "com.acme.store."}, say), sorted by name.
     *
     * @throws IllegalArgumentException when an argument is null or the prefix is blank
     * @throws IllegalStateException    when the jar or directory cannot be read
     */
    public static List<Class<?>> publicClassesBeside(Class<?> anchor, String packagePrefix) {
        require(anchor, "anchor");
        requireText(packagePrefix, "packagePrefix");
        List<String> names = new ArrayList<>();
        try {
            Path location = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(location)) {
                try (Stream<Path> files = Files.walk(location)) {
                    files.map(file -> location.relativize(file).toString().replace('\\', '/')).forEach(names::add);
                }
            } else {
                try (JarFile jar = new JarFile(location.toFile())) {
                    jar.stream().forEach(entry -> names.add(entry.getName()));
                }
            }
        } catch (IOException | URISyntaxException | RuntimeException e) {
            throw new IllegalStateException("cannot list the classes beside " + anchor.getName(), e);
        }
        List<Class<?>> found = new ArrayList<>();
        for (String name : names) {
            if (!name.endsWith(".class") || name.endsWith("module-info.class") || name.endsWith("package-info.class")) {
                continue;
            }
            String className = name.substring(0, name.length() - ".class".length()).replace('/', '.');
            if (!className.startsWith(packagePrefix)) {
                continue;
            }
            try {
                Class<?> type = Class.forName(className, false, anchor.getClassLoader());
                if (isPublicApi(type)) {
                    found.add(type);
                }
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("cannot load " + className + " beside " + anchor.getName(), e);
            }
        }
        found.sort(Comparator.comparing(Class::getName));
        return found;
    }

    /**
     * The value of every parameter of exactly {@code type} that has no sample by name.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public <T> ArgumentSweep sample(Class<T> type, Supplier<? extends T> value) {
        require(type, "type");
        require(value, "value");
        samplesByType.put(type, value);
        return this;
    }

    /**
     * The value of the parameters named {@code name} of exactly {@code type}.
     *
     * @throws IllegalArgumentException when an argument is null or the name is blank
     */
    public <T> ArgumentSweep sample(String name, Class<T> type, Supplier<? extends T> value) {
        requireText(name, "name");
        require(type, "type");
        require(value, "value");
        samplesByName.put(name + ":" + type.getName(), value);
        return this;
    }

    /**
     * Runs the instance methods of {@code type} on fresh instances from {@code instance}.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public <T> ArgumentSweep receiver(Class<T> type, Supplier<? extends T> instance) {
        require(type, "type");
        require(instance, "instance");
        receivers.computeIfAbsent(type, t -> new ArrayList<>()).add(new Receiver(instance, null, false));
        return this;
    }

    /**
     * As {@link #receiver(Class, Supplier)}; {@code state} of a receiver must be equal before and after
     * a refused call (say, what a store's log holds).
     *
     * @throws IllegalArgumentException when an argument is null
     */
    @SuppressWarnings("unchecked")
    public <T> ArgumentSweep receiver(Class<T> type, Supplier<? extends T> instance, Function<? super T, ?> state) {
        require(type, "type");
        require(instance, "instance");
        require(state, "state");
        receivers.computeIfAbsent(type, t -> new ArrayList<>())
                .add(new Receiver(instance, (Function<Object, ?>) state, false));
        return this;
    }

    /**
     * An implementation of interface {@code type} made for the test, to reach the default methods it
     * does not override; its own methods are not swept.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public <T> ArgumentSweep defaultsOf(Class<T> type, Supplier<? extends T> instance) {
        require(type, "type");
        require(instance, "instance");
        receivers.computeIfAbsent(type, t -> new ArrayList<>()).add(new Receiver(instance, null, true));
        return this;
    }

    /**
     * Marks {@code type} as an interface that users implement and the library calls (a handler, a
     * policy): its abstract methods are not swept, its static and default methods are.
     *
     * @throws IllegalArgumentException when the type is null
     */
    public ArgumentSweep callback(Class<?> type) {
        require(type, "type");
        callbacks.add(type);
        return this;
    }

    /**
     * Lets one parameter take one kind of bad value, for the reason its Javadoc gives: the call must
     * then return normally. {@code key} is {@code kind:Type.method(parameter)}, or
     * {@code kind:Type(parameter)} for a constructor, with the type's name within its package
     * ({@code Repository.Builder}) and the kind one of {@code null}, {@code blank}, {@code negative},
     * {@code empty}, {@code null element} and {@code null value}. A method inherited from an interface
     * can be keyed by either type. A key that no call meets is reported, so a renamed parameter does
     * not leave a stale allowance behind.
     *
     * @throws IllegalArgumentException when an argument is null or blank
     */
    public ArgumentSweep allow(String key, String why) {
        requireText(key, "key");
        requireText(why, "why");
        allowed.put(key, why);
        return this;
    }

    /**
     * Other words a message may use for the parameters named {@code parameter}, when it names the
     * value by what it is rather than by the parameter's name ({@code afterPosition}: "position").
     *
     * @throws IllegalArgumentException when an argument or word is null or blank
     */
    public ArgumentSweep alias(String parameter, String... words) {
        requireText(parameter, "parameter");
        require(words, "words");
        for (int i = 0; i < words.length; i++) {
            requireText(words[i], "words[" + i + "]");
        }
        aliases.put(parameter, List.of(words));
        return this;
    }

    /** Sweeps every class; returns the problems found, one line each, empty when there are none. */
    public List<String> run() {
        problems.clear();
        allowedMet.clear();
        calls = 0;
        for (Class<?> type : classes) {
            sweep(type);
        }
        for (String key : allowed.keySet()) {
            if (!allowedMet.contains(key)) {
                problems.add("allowed, but no call met it (a renamed parameter?): " + key);
            }
        }
        return List.copyOf(problems);
    }

    /**
     * Runs the sweep and fails the test with every problem found, one line each, or when it made fewer
     * than {@code minimumCalls} calls (a sweep that reaches nothing proves nothing).
     *
     * @throws IllegalArgumentException when {@code minimumCalls} is negative
     */
    public void assertNoProblems(int minimumCalls) {
        if (minimumCalls < 0) {
            throw new IllegalArgumentException("minimumCalls must be >= 0, was " + minimumCalls);
        }
        List<String> found = run();
        Assertions.assertEquals(List.of(), found, found.size() + " problems in " + calls + " calls:\n"
                + String.join("\n", found));
        Assertions.assertTrue(calls >= minimumCalls, "the sweep made only " + calls + " calls");
    }

    /** How many calls the last {@link #run()} made. */
    public int calls() {
        return calls;
    }

    private static boolean isPublicApi(Class<?> type) {
        if (type.isAnonymousClass() || type.isLocalClass() || type.isSynthetic()) {
            return false;
        }
        for (Class<?> c = type; c != null; c = c.getEnclosingClass()) {
            if (!Modifier.isPublic(c.getModifiers())) {
                return false;
            }
        }
        return true;
    }

    private void sweep(Class<?> type) {
        if (Throwable.class.isAssignableFrom(type) || type.isAnnotation() || isJUnitSuite(type)) {
            return;
        }
        if (!type.isInterface() && !Modifier.isAbstract(type.getModifiers())) {
            for (Constructor<?> constructor : type.getConstructors()) {
                sweep(type, constructor, null);
            }
        }
        for (Method method : type.getMethods()) {
            if (isJdk(method.getDeclaringClass()) || method.isSynthetic() || method.isBridge()
                    || method.getName().equals("equals") || type.isEnum() && isEnumGenerated(method)
                    || !hasSweptParameter(method)) {
                continue;
            }
            if (Modifier.isStatic(method.getModifiers())) {
                if (method.getDeclaringClass() == type) {
                    sweep(type, method, null);
                }
                continue;
            }
            if (callbacks.contains(type) && !method.isDefault()) {
                continue;
            }
            List<Receiver> made = receivers.get(type);
            if (made == null) {
                problems.add("no receiver for " + type.getName() + " to call " + method + " on: add one to the sweep");
                continue;
            }
            for (Receiver receiver : made) {
                if (!receiver.defaultsOnly() || isInheritedDefault(receiver, method)) {
                    sweep(type, method, receiver);
                }
            }
        }
    }

    private static boolean isJdk(Class<?> type) {
        ClassLoader loader = type.getClassLoader();
        return loader == null || loader == ClassLoader.getPlatformClassLoader();
    }

    private static boolean isJUnitSuite(Class<?> type) {
        return Arrays.stream(type.getMethods()).anyMatch(m -> Arrays.stream(m.getAnnotations())
                .anyMatch(a -> a.annotationType().getName().equals("org.junit.jupiter.api.Test")));
    }

    private static boolean isEnumGenerated(Method method) {
        return method.getName().equals("values") || method.getName().equals("valueOf");
    }

    private static boolean isInheritedDefault(Receiver receiver, Method method) {
        if (!method.isDefault()) {
            return false;
        }
        try {
            return receiver.instance().get().getClass().getMethod(method.getName(), method.getParameterTypes()).isDefault();
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private static boolean hasSweptParameter(Executable member) {
        return Arrays.stream(member.getParameterTypes()).anyMatch(t -> !t.isPrimitive() || t == int.class || t == long.class);
    }

    private void sweep(Class<?> type, Executable member, Receiver receiver) {
        Parameter[] parameters = member.getParameters();
        for (int i = 0; i < parameters.length; i++) {
            if (!parameters[i].isNamePresent()) {
                problems.add(member + " was compiled without -parameters");
                return;
            }
            for (Bad bad : applicable(parameters[i].getType())) {
                for (Object value : badValues(bad, parameters[i].getType())) {
                    call(type, member, receiver, i, bad, value);
                }
            }
        }
    }

    private static List<Bad> applicable(Class<?> type) {
        if (type == int.class || type == long.class) {
            return List.of(Bad.NEGATIVE);
        }
        if (type.isPrimitive()) {
            return List.of();
        }
        List<Bad> bad = new ArrayList<>(List.of(Bad.NULL));
        if (type == String.class) {
            bad.add(Bad.BLANK);
        }
        if (type == List.class || type == Collection.class) {
            bad.add(Bad.EMPTY);
            bad.add(Bad.NULL_ELEMENT);
        }
        if (type.isArray() && !type.getComponentType().isPrimitive()) {
            bad.add(Bad.NULL_ELEMENT);
        }
        if (type == Map.class) {
            bad.add(Bad.NULL_VALUE);
        }
        return bad;
    }

    private static List<Object> badValues(Bad bad, Class<?> type) {
        return switch (bad) {
            case NULL -> Arrays.asList((Object) null);
            case BLANK -> List.of("", "  ");
            case NEGATIVE -> List.of(type == int.class ? (Object) (-1) : (Object) (-3L));
            case EMPTY -> List.of(List.of());
            case NULL_ELEMENT -> List.of(type.isArray() ? Array.newInstance(type.getComponentType(), 1)
                    : Arrays.asList((Object) null));
            case NULL_VALUE -> {
                Map<String, String> map = new HashMap<>();
                map.put("key", null);
                yield List.of(map);
            }
        };
    }

    private void call(Class<?> type, Executable member, Receiver receiver, int index, Bad bad, Object value) {
        Parameter parameter = member.getParameters()[index];
        String kind = bad.name().toLowerCase(Locale.ROOT).replace('_', ' ') + ":";
        String label = label(type, member) + "(" + parameter.getName() + ")";
        String key = kind + label;
        String declaredKey = kind + label(member.getDeclaringClass(), member) + "(" + parameter.getName() + ")";
        String allowance = allowed.containsKey(key) ? key : allowed.containsKey(declaredKey) ? declaredKey : null;
        if (allowance != null) {
            allowedMet.add(allowance);
        }
        String shown = label + " given " + describe(value);
        Object[] arguments = new Object[member.getParameterCount()];
        for (int i = 0; i < arguments.length; i++) {
            if (i == index) {
                arguments[i] = value;
                continue;
            }
            Parameter other = member.getParameters()[i];
            Object sample = sample(other);
            if (sample == NO_SAMPLE) {
                problems.add("no sample value for parameter '" + other.getName() + "' (" + other.getType().getName()
                        + ") of " + label(type, member) + ": add one to the sweep");
                return;
            }
            arguments[i] = sample;
        }
        Object target = receiver == null ? null : receiver.instance().get();
        Function<Object, ?> state = receiver == null ? null : receiver.state();
        Object before = state == null ? null : state.apply(target);
        Throwable thrown = null;
        calls++;
        try {
            if (member instanceof Constructor<?> constructor) {
                constructor.newInstance(arguments);
            } else {
                ((Method) member).invoke(target, arguments);
            }
        } catch (InvocationTargetException e) {
            thrown = e.getCause();
        } catch (ReflectiveOperationException e) {
            problems.add(shown + ": cannot call it: " + e);
            return;
        }
        if (allowance != null) {
            if (thrown != null) {
                problems.add(shown + ": allowed (" + allowed.get(allowance) + ") but threw " + thrown);
            }
        } else if (thrown == null) {
            problems.add(shown + ": accepted it");
        } else if (!(thrown instanceof IllegalArgumentException)) {
            problems.add(shown + ": threw " + thrown
                    + (thrown.getStackTrace().length > 0 ? " at " + thrown.getStackTrace()[0] : ""));
        } else if (!names(thrown.getMessage(), parameter.getName())) {
            problems.add(shown + ": the message does not name '" + parameter.getName() + "': " + thrown.getMessage());
        } else if (state != null && !Objects.equals(before, state.apply(target))) {
            problems.add(shown + ": refused, but changed the receiver from " + before + " to " + state.apply(target));
        }
    }

    private Object sample(Parameter parameter) {
        Supplier<?> byName = samplesByName.get(parameter.getName() + ":" + parameter.getType().getName());
        if (byName != null) {
            return byName.get();
        }
        Class<?> type = parameter.getType();
        if (type == int.class) {
            return 1;
        }
        if (type == long.class) {
            return 1L;
        }
        if (type == boolean.class) {
            return false;
        }
        Supplier<?> byType = samplesByType.get(type);
        return byType == null ? NO_SAMPLE : byType.get();
    }

    private boolean names(String message, String parameter) {
        if (message == null) {
            return false;
        }
        String text = message.toLowerCase(Locale.ROOT);
        List<String> words = new ArrayList<>(aliases.getOrDefault(parameter, List.of()));
        words.add(parameter);
        words.add(parameter.replaceAll("([a-z0-9])([A-Z])", "$1 $2"));
        return words.stream().anyMatch(word -> text.contains(word.toLowerCase(Locale.ROOT)));
    }

    private static String label(Class<?> type, Executable member) {
        String name = type.getName().substring(type.getPackageName().isEmpty() ? 0 : type.getPackageName().length() + 1)
                .replace('$', '.');
        return member instanceof Constructor<?> ? name : name + "." + member.getName();
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof String s) {
            return "'" + s + "'";
        }
        if (value.getClass().isArray()) {
            return "an array holding null";
        }
        if (value instanceof Map<?, ?>) {
            return "a map holding a null value";
        }
        if (value instanceof List<?> list) {
            return list.isEmpty() ? "an empty list" : "a list holding null";
        }
        return String.valueOf(value);
    }

    private static void require(Object value, String name) {
        if (value == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    private static void requireText(String value, String name) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be null or blank, was "
                    + (value == null ? "null" : "'" + value + "'"));
        }
    }
}
