"""Inventory and equipment use cases: move, split, stack, equip, unequip, destroy, consume.

Each is one transaction under the character's inventory lock and leaves an ``ItemMovement`` per
changed row, so "where did my sword go" has an answer. Equipment changes tell the world after
commit (``economy.events``) so the character's stats are reloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from characters.models import Character
from economy.events import publish_character_changed_on_commit
from economy.models import ItemContainer, ItemInstance, LedgerTransaction, TransactionKind
from economy.services._bag import Bag, held_item, open_bags
from economy.services._core import (
    PARKING_SLOT,
    Book,
    InventoryFull,
    Place,
    begin_transaction,
    check_active_character,
    check_client_key,
    check_quantity,
    item_definition,
    lock_accounts,
    run_idempotent,
)
from mmo_platform.errors import ValidationFailed


@dataclass(frozen=True)
class InventoryResult:
    transaction_id: int
    item_ids: list[int] = field(default_factory=list)
    replayed: bool = False


def _replay(tx: LedgerTransaction) -> InventoryResult:
    item_ids = sorted(set(tx.movements.values_list("item_id", flat=True)))
    return InventoryResult(transaction_id=tx.pk, item_ids=item_ids, replayed=True)


def _run(
    *,
    character: Character,
    kind: str,
    idempotency_key: str | None,
    key_required: bool = False,
    fingerprint: dict[str, Any],
    body: Callable[[Bag, Book], None],
    reason: str = "",
    after_commit: str | None = None,
) -> InventoryResult:
    key = None
    if idempotency_key is not None or key_required:
        key = f"{kind}:c{character.pk}:{check_client_key(idempotency_key)}"
    fingerprint = {"character": character.pk, **fingerprint}

    def work() -> InventoryResult:
        check_active_character(character)
        locks = lock_accounts(characters=[character])
        tx = begin_transaction(kind=kind, key=key, fingerprint=fingerprint, reason=reason)
        book = Book(tx, locks)
        body(open_bags([character], locks, book)[character.pk], book)
        book.finish()
        if after_commit:
            publish_character_changed_on_commit(character.pk, after_commit)
        return InventoryResult(
            transaction_id=tx.pk, item_ids=sorted({m.item_id for m in book.movements})
        )

    return run_idempotent(kind=kind, key=key, fingerprint=fingerprint, work=work, replay=_replay)


def _check_slot(bag: Bag, slot: int) -> int:
    if (
        isinstance(slot, bool)
        or not isinstance(slot, int)
        or not 0 <= slot < bag.inventory.capacity
    ):
        raise ValidationFailed(
            f"slot must be between 0 and {bag.inventory.capacity - 1}.", code="invalid_slot"
        )
    return slot


def _relocate(
    bag: Bag, item: ItemInstance, *, container: str, slot: int | None, equip: str
) -> None:
    item.container = container
    item.slot = slot
    item.equip_slot = equip
    bag.save(item, "container", "slot", "equip_slot")


def _first_free_slot(bag: Bag) -> int:
    free = bag.free_slots()
    if not free:
        raise InventoryFull("Not enough room in the inventory.")
    return free[0]


def inventory_move(
    *, character: Character, item_id: int, slot: int, idempotency_key: str | None = None
) -> InventoryResult:
    """Move an item to ``slot``; if another item is there, the two swap places."""

    def body(bag: Bag, book: Book) -> None:
        target_slot = _check_slot(bag, slot)
        item = held_item(bag, item_id)
        if item.slot == target_slot:
            raise ValidationFailed("The item is already in that slot.", code="no_change")
        occupant = next((i for i in bag.items.values() if i.slot == target_slot), None)
        origin = Place.of(item)
        if occupant is None:
            _relocate(bag, item, container=ItemContainer.INVENTORY, slot=target_slot, equip="")
            book.record(item, delta=0, quantity=item.quantity, source=origin, target=Place.of(item))
            return
        occupant_origin = Place.of(occupant)
        old_slot = item.slot
        _relocate(bag, item, container=ItemContainer.INVENTORY, slot=PARKING_SLOT, equip="")
        _relocate(bag, occupant, container=ItemContainer.INVENTORY, slot=old_slot, equip="")
        _relocate(bag, item, container=ItemContainer.INVENTORY, slot=target_slot, equip="")
        book.record(item, delta=0, quantity=item.quantity, source=origin, target=Place.of(item))
        book.record(
            occupant,
            delta=0,
            quantity=occupant.quantity,
            source=occupant_origin,
            target=Place.of(occupant),
        )

    return _run(
        character=character,
        kind=TransactionKind.INVENTORY,
        idempotency_key=idempotency_key,
        fingerprint={"op": "move", "item": item_id, "slot": slot},
        body=body,
    )


def inventory_split(
    *,
    character: Character,
    item_id: int,
    quantity: int,
    slot: int | None = None,
    idempotency_key: str | None = None,
) -> InventoryResult:
    """Split ``quantity`` off a stack into ``slot`` (or the first free slot)."""
    check_quantity(quantity)

    def body(bag: Bag, book: Book) -> None:
        item = held_item(bag, item_id)
        if quantity >= item.quantity:
            raise ValidationFailed("Split off fewer than the stack holds.", code="invalid_quantity")
        target_slot = _first_free_slot(bag) if slot is None else _check_slot(bag, slot)
        if target_slot in {i.slot for i in bag.items.values()}:
            raise ValidationFailed("That slot is not empty.", code="slot_occupied")
        origin = Place.of(item)
        new_stack = ItemInstance.objects.create(
            definition_id=item.definition_id,
            quantity=quantity,
            owner_id=character.pk,
            container=ItemContainer.INVENTORY,
            slot=target_slot,
            bound=item.bound,
            created_at=book.now,
            updated_at=book.now,
        )
        bag.deduct(item, quantity, origin=origin, target=Place.of(new_stack))
        book.record(
            new_stack, delta=quantity, quantity=quantity, source=origin, target=Place.of(new_stack)
        )

    return _run(
        character=character,
        kind=TransactionKind.INVENTORY,
        idempotency_key=idempotency_key,
        fingerprint={"op": "split", "item": item_id, "quantity": quantity, "slot": slot},
        body=body,
    )


def inventory_stack(
    *,
    character: Character,
    source_item_id: int,
    target_item_id: int,
    quantity: int | None = None,
    idempotency_key: str | None = None,
) -> InventoryResult:
    """Move units from one stack onto another of the same item (as many as fit, at most
    ``quantity``). A source left empty disappears from the inventory."""
    if quantity is not None:
        check_quantity(quantity)

    def body(bag: Bag, book: Book) -> None:
        source = held_item(bag, source_item_id)
        target = held_item(bag, target_item_id)
        definition = item_definition(source.definition_id)
        if source.pk == target.pk:
            raise ValidationFailed("Pick two different stacks.", code="same_item")
        if source.definition_id != target.definition_id or source.bound != target.bound:
            raise ValidationFailed("Only identical items stack.", code="not_stackable")
        room = definition.stack_size - target.quantity
        moving = min(source.quantity if quantity is None else quantity, room)
        if quantity is not None and quantity > source.quantity:
            raise ValidationFailed("The stack holds fewer than that.", code="invalid_quantity")
        if moving <= 0:
            raise ValidationFailed("The target stack is full.", code="stack_full")
        bag.shift(source, target, moving, Place.of(source))

    return _run(
        character=character,
        kind=TransactionKind.INVENTORY,
        idempotency_key=idempotency_key,
        fingerprint={
            "op": "stack",
            "source": source_item_id,
            "target": target_item_id,
            "quantity": quantity,
        },
        body=body,
    )


def inventory_equip(
    *, character: Character, item_id: int, idempotency_key: str | None = None
) -> InventoryResult:
    """Equip an inventory item in its definition's slot; whatever was there takes its place in
    the bag. Binds-on-equip items become bound. The world is told after commit."""

    def body(bag: Bag, book: Book) -> None:
        item = held_item(bag, item_id)
        definition = item_definition(item.definition_id)
        if definition.equip_slot is None:
            raise ValidationFailed("This item cannot be equipped.", code="not_equippable")
        if character.level < definition.level_required:
            raise ValidationFailed(
                f"Requires level {definition.level_required}.",
                code="level_too_low",
                level_required=definition.level_required,
            )
        occupant = (
            ItemInstance.objects.select_for_update()
            .filter(
                owner_id=character.pk,
                container=ItemContainer.EQUIPMENT,
                equip_slot=definition.equip_slot,
            )
            .first()
        )
        origin, old_slot = Place.of(item), item.slot
        if occupant is not None:
            occupant_origin = Place.of(occupant)
            _relocate(bag, occupant, container=ItemContainer.INVENTORY, slot=PARKING_SLOT, equip="")
        _relocate(
            bag, item, container=ItemContainer.EQUIPMENT, slot=None, equip=definition.equip_slot
        )
        if definition.binds == "equip" and not item.bound:
            item.bound = True
            bag.save(item, "bound")
        book.record(item, delta=0, quantity=item.quantity, source=origin, target=Place.of(item))
        if occupant is not None:
            _relocate(bag, occupant, container=ItemContainer.INVENTORY, slot=old_slot, equip="")
            book.record(
                occupant,
                delta=0,
                quantity=occupant.quantity,
                source=occupant_origin,
                target=Place.of(occupant),
            )

    return _run(
        character=character,
        kind=TransactionKind.EQUIP,
        idempotency_key=idempotency_key,
        fingerprint={"op": "equip", "item": item_id},
        body=body,
        after_commit="equipment",
    )


def inventory_unequip(
    *,
    character: Character,
    equip_slot: str,
    slot: int | None = None,
    idempotency_key: str | None = None,
) -> InventoryResult:
    """Put the item in ``equip_slot`` back into the bag (``slot`` or the first free one)."""

    def body(bag: Bag, book: Book) -> None:
        item = (
            ItemInstance.objects.select_for_update()
            .filter(owner_id=character.pk, container=ItemContainer.EQUIPMENT, equip_slot=equip_slot)
            .first()
        )
        if item is None:
            raise ValidationFailed("Nothing is equipped in that slot.", code="slot_empty")
        target_slot = _first_free_slot(bag) if slot is None else _check_slot(bag, slot)
        if target_slot in {i.slot for i in bag.items.values()}:
            raise ValidationFailed("That slot is not empty.", code="slot_occupied")
        origin = Place.of(item)
        _relocate(bag, item, container=ItemContainer.INVENTORY, slot=target_slot, equip="")
        book.record(item, delta=0, quantity=item.quantity, source=origin, target=Place.of(item))

    return _run(
        character=character,
        kind=TransactionKind.EQUIP,
        idempotency_key=idempotency_key,
        fingerprint={"op": "unequip", "equip_slot": equip_slot, "slot": slot},
        body=body,
        after_commit="equipment",
    )


def inventory_destroy(
    *,
    character: Character,
    item_id: int,
    quantity: int | None,
    confirm: bool,
    idempotency_key: str,
) -> InventoryResult:
    """Destroy (part of) an inventory stack. Irreversible, so ``confirm`` must be True."""
    if confirm is not True:
        raise ValidationFailed(
            "Destroying an item needs confirmation.", code="confirmation_required"
        )
    if quantity is not None:
        check_quantity(quantity)

    def body(bag: Bag, book: Book) -> None:
        item = held_item(bag, item_id)
        amount = item.quantity if quantity is None else quantity
        if amount > item.quantity:
            raise ValidationFailed("The stack holds fewer than that.", code="invalid_quantity")
        bag.take(item, amount, container=ItemContainer.DESTROYED)

    return _run(
        character=character,
        kind=TransactionKind.DESTROY,
        idempotency_key=idempotency_key,
        key_required=True,
        fingerprint={"op": "destroy", "item": item_id, "quantity": quantity},
        body=body,
        reason="destroyed by the player",
    )


def inventory_consume(
    *,
    character: Character,
    item_id: int,
    quantity: int = 1,
    idempotency_key: str,
    reason: str = "",
) -> InventoryResult:
    """Use up consumables (the world calls this when a potion is drunk)."""
    check_quantity(quantity)

    def body(bag: Bag, book: Book) -> None:
        item = held_item(bag, item_id)
        if item_definition(item.definition_id).type != "consumable":
            raise ValidationFailed("Only consumables can be used up.", code="not_consumable")
        if quantity > item.quantity:
            raise ValidationFailed("The stack holds fewer than that.", code="invalid_quantity")
        bag.take(item, quantity, container=ItemContainer.CONSUMED)

    return _run(
        character=character,
        kind=TransactionKind.CONSUME,
        idempotency_key=idempotency_key,
        key_required=True,
        fingerprint={"op": "consume", "item": item_id, "quantity": quantity},
        body=body,
        reason=reason or "consumed",
    )
