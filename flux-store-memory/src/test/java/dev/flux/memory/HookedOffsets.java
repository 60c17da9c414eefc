package dev.flux.memory;

import dev.flux.subscription.OffsetStore;

import java.util.OptionalLong;

/** An offset store passing every call to another, for a test to override the calls it hooks into. */
class HookedOffsets implements OffsetStore {
    private final OffsetStore inner;

    HookedOffsets(OffsetStore inner) {
        this.inner = inner;
    }

    @Override
    public long load(String name) {
        return inner.load(name);
    }

    @Override
    public OptionalLong find(String name) {
        return inner.find(name);
    }

    @Override
    public void save(String name, long position) {
        inner.save(name, position);
    }

    @Override
    public void delete(String name) {
        inner.delete(name);
    }
}
