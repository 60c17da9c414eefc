package dev.flux.serialization;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The schema version of an event class's JSON, when it is not 1: raise it when the class changes
 * shape, and register an upcaster in {@link EventTypes} from the previous version. Events are written
 * with their version in the {@code schema_version} metadata and upcast to the current one on read.
 *
 * <p>On an aggregate class, the version of its snapshots' state: raise it when a handler changes what
 * it makes of the same events, or an upcaster of its events is changed in place (its version kept), and
 * snapshots taken before are ignored (the aggregate is rebuilt from
 * its events). Changes to its fields, to the classes they hold and to its event classes and their
 * schema versions are seen without it.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface SchemaVersion {
    /** The version, 1 or more. */
    int value();
}
