"""The working view of a character's bag during one use case: minting, receiving, splitting
off and taking out items, with every change recorded as item movements in the book.

Private to the services package (see ``_core`` for locks and the book).
"""

from __future__ import annotations

from collections.abc import Iterable

from characters.models import Character
from economy.catalog import ItemDef
from economy.models import ESCROW_CONTAINERS, Inventory, ItemContainer, ItemInstance
from economy.services._core import MINT, Book, InventoryFull, Locks, Place
from mmo_platform.errors import ValidationFailed

# --- inventories -------------------------------------------------------------------------


class Bag:
    """The working view of one character's inventory during a use case.

    Precondition: the caller holds this character's inventory lock, so nobody else changes its
    held items until commit. Build bags with :func:`open_bags` so that bags of one use case
    share item objects (a row moved from one bag to another is the same Python object).
    Changes are saved as they are made."""

    def __init__(
        self, character: Character, inventory: Inventory, book: Book, items: dict[int, ItemInstance]
    ) -> None:
        self.character = character
        self.inventory = inventory
        self.book = book
        self._items = items

    @property
    def items(self) -> dict[int, ItemInstance]:
        """Items in this inventory now (rows that left during the use case are filtered out)."""
        return {
            pk: item
            for pk, item in self._items.items()
            if item.owner_id == self.character.pk and item.container == ItemContainer.INVENTORY
        }

    def free_slots(self) -> list[int]:
        used = {item.slot for item in self.items.values()}
        return [slot for slot in range(self.inventory.capacity) if slot not in used]

    def stacks_with_room(self, definition: ItemDef, *, bound: bool) -> list[ItemInstance]:
        return sorted(
            (
                item
                for item in self.items.values()
                if item.definition_id == definition.id
                and item.bound == bound
                and item.quantity < definition.stack_size
            ),
            key=lambda item: item.slot or 0,
        )

    def room_for(self, definition: ItemDef, quantity: int, *, bound: bool) -> bool:
        room = sum(
            definition.stack_size - item.quantity
            for item in self.stacks_with_room(definition, bound=bound)
        )
        remaining = max(quantity - room, 0)
        needed_slots = -(-remaining // definition.stack_size)
        return needed_slots <= len(self.free_slots())

    def save(self, item: ItemInstance, *fields: str) -> None:
        item.updated_at = self.book.now
        item.save(update_fields=[*fields, "updated_at"])

    def mint(self, definition: ItemDef, quantity: int) -> list[ItemInstance]:
        """Create ``quantity`` new items (loot, shop, GM): top up stacks, then free slots."""
        bound = definition.binds == "pickup"
        if not self.room_for(definition, quantity, bound=bound):
            raise InventoryFull(
                "Not enough room in the inventory.", item_id=definition.id, quantity=quantity
            )
        touched: list[ItemInstance] = []
        remaining = quantity
        for stack in self.stacks_with_room(definition, bound=bound):
            take = min(definition.stack_size - stack.quantity, remaining)
            stack.quantity += take
            self.save(stack, "quantity")
            self.book.record(stack, delta=take, quantity=take, source=MINT, target=Place.of(stack))
            touched.append(stack)
            remaining -= take
            if remaining == 0:
                return touched
        free = iter(self.free_slots())
        while remaining > 0:
            take = min(definition.stack_size, remaining)
            item = ItemInstance.objects.create(
                definition_id=definition.id,
                quantity=take,
                owner_id=self.character.pk,
                container=ItemContainer.INVENTORY,
                slot=next(free),
                bound=bound,
                created_at=self.book.now,
                updated_at=self.book.now,
            )
            self._items[item.pk] = item
            self.book.record(item, delta=take, quantity=take, source=MINT, target=Place.of(item))
            touched.append(item)
            remaining -= take
        return touched

    def receive(self, source: ItemInstance, quantity: int, definition: ItemDef) -> None:
        """Move ``quantity`` of ``source`` (locked; held by someone else or in escrow) into this
        inventory: top up matching stacks, then keep the row itself when all of the rest moves
        (so a unique item keeps its identity through trades), else split the rest off.

        Raises InventoryFull when it does not fit (callers check ``room_for`` first)."""
        origin = Place.of(source)
        remaining = quantity
        if definition.stackable:
            for stack in self.stacks_with_room(definition, bound=source.bound):
                if stack.pk == source.pk:
                    continue
                take = min(definition.stack_size - stack.quantity, remaining)
                self.shift(source, stack, take, origin)
                remaining -= take
                if remaining == 0:
                    return
        free = self.free_slots()
        if not free:
            raise InventoryFull("Not enough room in the inventory.", item_id=definition.id)
        if remaining == source.quantity:
            source.owner_id = self.character.pk
            source.container = ItemContainer.INVENTORY
            source.slot = free[0]
            source.equip_slot = ""
            source.mail_id = None
            self.save(source, "owner", "container", "slot", "equip_slot", "mail")
            self._items[source.pk] = source
            self.book.record(
                source, delta=0, quantity=remaining, source=origin, target=Place.of(source)
            )
            return
        new_stack = ItemInstance.objects.create(
            definition_id=source.definition_id,
            quantity=remaining,
            owner_id=self.character.pk,
            container=ItemContainer.INVENTORY,
            slot=free[0],
            bound=source.bound,
            created_at=self.book.now,
            updated_at=self.book.now,
        )
        self._items[new_stack.pk] = new_stack
        self.deduct(source, remaining, origin=origin, target=Place.of(new_stack))
        self.book.record(
            new_stack,
            delta=remaining,
            quantity=remaining,
            source=origin,
            target=Place.of(new_stack),
        )

    def shift(
        self, source: ItemInstance, target: ItemInstance, quantity: int, origin: Place
    ) -> None:
        """Move units between two existing rows: two movements whose deltas sum to zero."""
        target.quantity += quantity
        self.save(target, "quantity")
        self.deduct(source, quantity, origin=origin, target=Place.of(target))
        self.book.record(
            target, delta=quantity, quantity=quantity, source=origin, target=Place.of(target)
        )

    def deduct(self, item: ItemInstance, quantity: int, *, origin: Place, target: Place) -> None:
        """Take units off a row; a row left empty is kept as a MERGED record."""
        item.quantity -= quantity
        if item.quantity == 0:
            item.container = ItemContainer.MERGED
            item.slot = None
            item.equip_slot = ""
            item.mail_id = None
            self.save(item, "quantity", "container", "slot", "equip_slot", "mail")
        else:
            self.save(item, "quantity")
        self.book.record(item, delta=-quantity, quantity=quantity, source=origin, target=target)

    def take(
        self, item: ItemInstance, quantity: int, *, container: str, mail_id: int | None = None
    ) -> ItemInstance:
        """Move ``quantity`` of a held row out into ``container`` (destroyed, consumed, revoked,
        mail escrow): the whole row when all of it goes, else a split-off row. Returns the row
        now in ``container``."""
        origin = Place.of(item)
        owner_id = None if container in ESCROW_CONTAINERS else item.owner_id
        target = Place(container, owner_id, str(mail_id) if mail_id else "")
        if quantity == item.quantity:
            item.container = container
            item.slot = None
            item.equip_slot = ""
            item.owner_id = owner_id
            item.mail_id = mail_id
            self.save(item, "container", "slot", "equip_slot", "owner", "mail")
            self.book.record(item, delta=0, quantity=quantity, source=origin, target=target)
            return item
        split = ItemInstance.objects.create(
            definition_id=item.definition_id,
            quantity=quantity,
            owner_id=owner_id,
            container=container,
            mail_id=mail_id,
            bound=item.bound,
            created_at=self.book.now,
            updated_at=self.book.now,
        )
        self.deduct(item, quantity, origin=origin, target=target)
        self.book.record(split, delta=quantity, quantity=quantity, source=origin, target=target)
        return split


def open_bags(characters: Iterable[Character], locks: Locks, book: Book) -> dict[int, Bag]:
    """Lock every inventory item of ``characters`` in one primary-key-ordered query and return
    a bag per character id. Caller holds the characters' inventory locks (``lock_accounts``)."""
    by_id = {character.pk: character for character in characters}
    shared: dict[int, ItemInstance] = {
        item.pk: item
        for item in ItemInstance.objects.select_for_update()
        .filter(owner_id__in=list(by_id), container=ItemContainer.INVENTORY)
        .order_by("pk")
    }
    return {
        cid: Bag(character, locks.inventories[cid], book, shared)
        for cid, character in by_id.items()
    }


def held_item(bag: Bag, item_id: int) -> ItemInstance:
    item = bag.items.get(item_id)
    if item is None:
        raise ValidationFailed("That item is not in this inventory.", code="item_not_in_inventory")
    return item
