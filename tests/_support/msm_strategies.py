"""Hypothesis strategies over small pools of ids, so random policies collide and resolve."""

from __future__ import annotations

from uuid import UUID

from hypothesis import strategies as st

from xps.msm import (
    Binding,
    ConflictLevel,
    ConflictSet,
    Device,
    DomainConfig,
    GuestOS,
    GuestType,
    HypercallProfile,
    ObjType,
    Role,
    SecLabel,
    Tag,
)

NIL = UUID(int=0)


def _pool(kind: int, n: int) -> list[UUID]:
    # Ids whose first byte differs from their last, so byte order != int order matters.
    return [
        UUID(bytes=bytes([(i * 37 + kind) % 256]) + bytes(14) + bytes([kind]))
        for i in range(1, n + 1)
    ]


TAGS = _pool(1, 5)
PROFILES = _pool(2, 3)
CONFLICTS = _pool(3, 3)
SECLABELS = _pool(4, 5)
DOMAINS = _pool(5, 7)
BDFS = [0x0100, 0x0108, 0x0300, 0x1_0000]
NAMES = ["alpha", "beta", "gamma", "delta"]
HC_POOL = [1, 3, 12, 17, 29, 32, 36, 63]
SUBOP_POOL = [0, 1, 2, 255]
CALL_NRS = [*HC_POOL, 0, 20, 64, 200]
CALL_SUBOPS = [0, 1, 2, 3, 255, 256, 100000]


def sometimes_nil(pool: list[UUID]) -> st.SearchStrategy[UUID]:
    """Mostly a pool id, rarely the reserved nil uuid."""
    return st.one_of(st.sampled_from(pool), st.just(NIL)) if len(pool) > 1 else st.just(pool[0])


names = st.sampled_from(NAMES)

profiles = st.builds(
    HypercallProfile,
    sometimes_nil(PROFILES),
    names,
    st.frozensets(st.sampled_from(HC_POOL)),
    st.dictionaries(
        st.sampled_from([12, 29, 32, 36]), st.frozensets(st.sampled_from(SUBOP_POOL)), max_size=4
    ),
)
tags = st.builds(Tag, sometimes_nil(TAGS), names)
conflicts = st.builds(
    ConflictSet,
    sometimes_nil(CONFLICTS),
    names,
    st.sampled_from(list(ConflictLevel)),
    st.lists(st.sampled_from(TAGS), min_size=0, max_size=4).map(tuple) | st.just((TAGS[0], NIL)),
)
seclabels = st.builds(
    SecLabel,
    sometimes_nil(SECLABELS),
    names,
    st.sampled_from(PROFILES),
    st.sampled_from(TAGS),
    st.sampled_from(list(Role)),
    st.sampled_from([0, 1, 2, 3, 65535, 65536]),
    st.sampled_from([0, 1, 2, 3, 5]),
)
bindings = st.builds(Binding, sometimes_nil(DOMAINS), st.sampled_from(SECLABELS))
devices = st.builds(Device, st.sampled_from(BDFS), st.sampled_from(TAGS))
policy_objects = st.one_of(profiles, tags, conflicts, seclabels, bindings, devices)

keys_by_type = {
    ObjType.PROFILE: PROFILES,
    ObjType.TAG: TAGS,
    ObjType.CONFLICT: CONFLICTS,
    ObjType.SECLABEL: SECLABELS,
    ObjType.BINDING: DOMAINS,
}


@st.composite
def delete_keys(draw: st.DrawFn) -> tuple[ObjType, UUID | int]:
    """An object type and a key of that type (possibly absent)."""
    objtype = draw(st.sampled_from(list(ObjType)))
    if objtype is ObjType.DEVICE:
        return objtype, draw(st.sampled_from(BDFS))
    return objtype, draw(st.sampled_from(keys_by_type[objtype]))


@st.composite
def valid_policies(draw: st.DrawFn) -> list[object]:
    """A policy whose references all resolve and whose names are unique per type."""
    out: list[object] = [Tag(t, f"tag{i}") for i, t in enumerate(TAGS)]
    for i, p in enumerate(PROFILES):
        hcs = draw(st.frozensets(st.sampled_from(HC_POOL), min_size=1))
        subs = {nr: draw(st.frozensets(st.sampled_from(SUBOP_POOL))) for nr in (12, 29, 32, 36)}
        out.append(HypercallProfile(p, f"prof{i}", hcs, subs))
    for i, s in enumerate(SECLABELS):
        out.append(
            SecLabel(
                s,
                f"label{i}",
                draw(st.sampled_from(PROFILES)),
                draw(st.sampled_from(TAGS)),
                draw(st.sampled_from(list(Role))),
                draw(st.sampled_from([1, 2, 3, 1000])),
                draw(st.sampled_from([0, 2, 4, 100])),
            )
        )
    for d in DOMAINS:
        if draw(st.integers(0, 5)):
            out.append(Binding(d, draw(st.sampled_from(SECLABELS))))
    for i, c in enumerate(CONFLICTS):
        if draw(st.booleans()):
            members = draw(st.lists(st.sampled_from(TAGS), min_size=2, max_size=4, unique=True))
            level = draw(st.sampled_from(list(ConflictLevel)))
            out.append(ConflictSet(c, f"set{i}", level, tuple(members)))
    for bdf in BDFS:
        if draw(st.booleans()):
            out.append(Device(bdf, draw(st.sampled_from(TAGS))))
    return out


invalid_domain_configs = st.builds(
    DomainConfig,
    sometimes_nil(DOMAINS),
    st.sampled_from(["vm1", "vm2", "Domain-0"]),
    st.sampled_from(list(GuestType)),
    st.sampled_from(list(GuestOS)),
    st.sampled_from([0, 1, 2048, 2049, 8192, 40000]),
    st.sampled_from([0, 4096, 65536]),
    st.sampled_from([0, 1, 2, 200]),
    st.sampled_from([0, 1, 2, 129]),
    st.sampled_from([0, 500, 1000, 1001]),
    st.booleans(),
)


@st.composite
def valid_domain_configs(draw: st.DrawFn) -> DomainConfig:
    """A well-formed config (it may still clash, lack a label or memory)."""
    mem = draw(st.sampled_from([1, 2048, 2049, 4096, 8192, 20000]))
    max_vcpus = draw(st.integers(1, 4))
    return DomainConfig(
        draw(st.sampled_from(DOMAINS)),
        draw(st.sampled_from(["vm1", "vm2", "vm3", "vm4", "vm5", "vm6"])),
        draw(st.sampled_from(list(GuestType))),
        draw(st.sampled_from(list(GuestOS))),
        mem,
        mem + draw(st.sampled_from([0, 2048])),
        draw(st.integers(1, max_vcpus)),
        max_vcpus,
        draw(st.sampled_from([0, 500, 1000])),
        draw(st.booleans()),
    )


domain_configs = st.one_of(valid_domain_configs(), valid_domain_configs(), invalid_domain_configs)
