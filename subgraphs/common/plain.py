"""Plain fields completed without graphql-core's per-field machinery.

Most fields of a subgraph's answers are plain attribute reads: `User.username`,
`FeedEdge.cursor`, `Post.id`, `__typename`. graphql-core executes each one as it executes a
resolver with arguments: the field's definition looked up, a `GraphQLResolveInfo` built, its
arguments coerced, Strawberry's basic-field wrapper called, then `complete_value` through the
non-null, list, leaf, abstract and object cases. A home feed page is 85 such field
executions in the feed subgraph for 3 that resolve anything (bench/RESULTS.md, session 22).

`PlainFieldsExecutionContext.execute_fields` takes these kinds of field straight to their
value when nothing else can happen to them (decided once per field node of a document, by
`plain_field`):

- a leaf (scalar or enum, nullable or not) whose resolver is Strawberry's basic one (no
  resolver, no field extension, no exception handler, the default `getattr`): its
  attribute, serialized by its type's `serialize`;
- an object type without `is_type_of` likewise read: its attribute, then its own selection
  (through this same `execute_fields`);
- `__typename`: the parent type's name;
- a leaf declared with `context_field`: a function of the object and the request context
  (`Post.likeCount`: `like_count(post, context)`), no arguments, no field extension; its
  value completed as a data field's (a DataLoader's future goes on to graphql-core's
  completion, awaited there);
- a list read likewise: its attribute, completed as `execute_field` completes a resolver's
  list (no `GraphQLResolveInfo` per item, no Strawberry resolver call).

A data leaf of String, ID, Boolean or Int whose value is exactly the Python type the
serializer gives back unchanged (`str`, `bool`, an `int` within 32 bits) is its own answer,
without the serializer call and the awaitable checks.

The items of a list (`complete_list_value`: `_entities`, connection edges, any list field)
whose item type is an object type without `is_type_of`, or a union whose member a value's
Strawberry definition names, go straight to `execute_fields` with the sub-selection
collected once per list and runtime type: no `complete_value`, `complete_abstract_value`,
`ensure_valid_runtime_type`, `complete_object_value` per item. An item that is None, an
Exception, an awaitable, or a value of no known member is completed by graphql-core's own
`complete_value` in its list loop's error handling. A selection's plans (`_plan`) are
looked up once per collected selection of an operation, not once per object.

`build` coerces an operation's variables with `coerce_simple_variables`
(subgraphs/common/variables.py) when they are all given scalars or lists of scalars, else
graphql-core's `build` does it all.

A value of a union's member that is not generic gets its runtime type from its own
Strawberry definition (what Strawberry's union type resolver answers for it: the member
whose definition it is) instead of the resolver's search over the union's types
(`complete_abstract_value`; `_entities`' posts and users).

Only the ordinary outcome is taken short: the attribute read and serialized to a value. A
value that is None where null is not allowed, an Exception, an awaitable, a serializer that
raises or gives None, an attribute read that raises: each goes on to graphql-core's own
completion (`complete_value` inside the same error handling as `execute_field`) with the
value read, so errors, their messages, paths and null propagation are graphql-core's. Every
other field (resolvers, arguments, unions, interfaces, introspection) runs through
`execute_field` as before, and so does every field when a middleware is installed (a
Strawberry extension with a `resolve` hook). tests/subgraphs/common/test_plain.py runs
generated schemas, documents and values both ways and compares the results and errors
(lists of objects, of a union, of leaves, nested; values each serializer converts or
refuses); test_plain_entities.py does so for `_entities` with mixed and bad
representations.
"""

from __future__ import annotations

from asyncio import gather
from collections.abc import Awaitable, Callable, Mapping
from operator import attrgetter
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    get_nullable_type,
    is_leaf_type,
    is_object_type,
)
from graphql.error import located_error
from graphql.execution.execute import (
    CollectedErrors,
    default_field_resolver,
    default_type_resolver,
)
from graphql.language import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode
from graphql.pyutils import Path, Undefined
from graphql.type.scalars import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    serialize_boolean,
    serialize_id,
    serialize_int,
    serialize_string,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from subgraphs.common.variables import coerce_simple_variables

LEAF, OBJECT, TYPENAME, LIST = 1, 2, 3, 4
# serializer -> the type whose values (exactly that type) it returns unchanged; Int's only
# within 32 bits (checked where it is used)
_EXACT: dict[Any, type] = {
    serialize_string: str,
    serialize_id: str,
    serialize_boolean: bool,
    serialize_int: int,
}
_MIN_INT, _MAX_INT = GRAPHQL_MIN_INT, GRAPHQL_MAX_INT
# plans kept (a field node of a cached document each); emptied when full
PLAN_CACHE_SIZE = 20_000


class PlainField:
    """How a plain field is read and completed (see the module docstring)."""

    __slots__ = (
        "exact",
        "field_def",
        "get",
        "kind",
        "named",
        "nullable",
        "serialize",
        "with_context",
    )
    named: Any

    def __init__(
        self,
        kind: int,
        field_def: GraphQLField | None = None,
        get: Callable[..., Any] | None = None,
        with_context: bool = False,
    ) -> None:
        self.kind = kind
        self.field_def = field_def
        self.get = get  # get(source), or get(source, context) `with_context`
        self.with_context = with_context
        return_type: Any = field_def.type if field_def is not None else None
        self.nullable = not isinstance(return_type, GraphQLNonNull)
        named: Any = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        self.named = named
        self.serialize: Callable[[Any], Any] | None = named.serialize if kind == LEAF else None
        # a data leaf of String, ID, Boolean or Int: the Python type of the values that
        # graphql-core's serializer gives back as they are (an int within 32 bits)
        self.exact: type | None = (
            _EXACT.get(self.serialize) if kind == LEAF and not with_context else None
        )


def plain_field(parent_type: GraphQLObjectType, node: FieldNode) -> PlainField | None:
    """The field's plan when it is plain, else None (see the module docstring)."""
    name = node.name.value
    if name == "__typename":
        return PlainField(TYPENAME)
    if name.startswith("__") or node.arguments:
        return None
    field_def = parent_type.fields.get(name)
    if field_def is None or field_def.args:
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    by_context = context_resolver(definition)
    if by_context is not None and definition is not None:
        if definition.extensions or not is_leaf_type(get_nullable_type(field_def.type)):
            return None
        return PlainField(LEAF, field_def, by_context, with_context=True)
    if (
        definition is None
        or not getattr(field_def.resolve, "_is_default", False)
        or definition.base_resolver is not None
        or definition.extensions
        or definition.default_resolver is not getattr
        or not isinstance(definition.python_name, str)
    ):
        return None
    return_type = field_def.type
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    get = attrgetter(definition.python_name)
    if is_leaf_type(named):
        return PlainField(LEAF, field_def, get)
    if is_object_type(named) and named.is_type_of is None:
        return PlainField(OBJECT, field_def, get)
    if isinstance(named, GraphQLList):
        return PlainField(LIST, field_def, get)
    return None


CONTEXT_RESOLVER = "puppies.context_resolver"  # StrawberryField.metadata key
ContextResolver = Callable[[Any, Any], Any]


def context_field(
    *, graphql_type: Any, description: str | None = None, name: str | None = None
) -> Callable[[ContextResolver], Any]:
    """A field whose value is `fn(obj, context)` (no arguments), completed as a plain field:

        @context_field(graphql_type=int, description="Likes.")
        def like_count(self, context: PostsContext) -> int | Awaitable[int]:
            return context.loaders.like_count_of(self.rec)

    The schema (and the general path, with a middleware) see a Strawberry resolver
    `(self, info)` calling it with `info.context`."""

    def decorate(fn: ContextResolver) -> Any:
        def resolver(self: Any, info: Info[Any, Any]) -> Any:
            return fn(self, info.context)

        resolver.__name__ = fn.__name__
        resolver.__qualname__ = fn.__qualname__
        resolver.__doc__ = fn.__doc__
        resolver.__annotations__ = {"info": Info, "return": Any}
        return strawberry.field(
            resolver=resolver,
            graphql_type=graphql_type,
            description=description,
            name=name,
            metadata={CONTEXT_RESOLVER: fn},
        )

    return decorate


def context_resolver(definition: Any) -> ContextResolver | None:
    """The function a `context_field` was declared with, or None."""
    if not isinstance(definition, StrawberryField):
        return None
    metadata: Mapping[str, Any] = definition.metadata or {}
    fn = metadata.get(CONTEXT_RESOLVER)
    return fn if callable(fn) else None


def union_members(union: GraphQLUnionType) -> dict[int, GraphQLObjectType]:
    """id(Strawberry definition) -> member, for the members of a union Strawberry resolves
    (`_resolve_union_type`) that are not generic and have no `is_type_of`: Strawberry's
    answer for a value with that definition (`StrawberryObjectDefinition.is_implemented_by`
    is an identity test for them, and the union's own members are tried first)."""
    resolver = union.resolve_type
    if getattr(resolver, "__name__", "") != "_resolve_union_type":
        return {}
    members: dict[int, GraphQLObjectType] = {}
    for member in union.types:
        definition = (member.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and not definition.is_graphql_generic
            and definition.concrete_of is None
            and member.is_type_of is None
        ):
            members.setdefault(id(definition), member)
    return members


# id(union) -> (union, its `union_members`); the union is kept, so its id is not reused
_unions: dict[int, tuple[GraphQLUnionType, dict[int, GraphQLObjectType]]] = {}


def _members(union: GraphQLUnionType) -> dict[int, GraphQLObjectType]:
    found = _unions.get(id(union))
    if found is not None and found[0] is union:
        return found[1]
    members = union_members(union)
    if len(_unions) >= PLAN_CACHE_SIZE:
        _unions.clear()
    _unions[id(union)] = (union, members)
    return members


# (id of the parent type, id of the field node) -> (parent type, node, plan or None); the
# type and node are kept, so their ids cannot be reused while the entry is here
_plans: dict[tuple[int, int], tuple[GraphQLObjectType, FieldNode, PlainField | None]] = {}


def _plan(parent_type: GraphQLObjectType, node: FieldNode) -> PlainField | None:
    key = (id(parent_type), id(node))
    found = _plans.get(key)
    if found is not None and found[0] is parent_type and found[1] is node:
        return found[2]
    plan = plain_field(parent_type, node)
    if len(_plans) >= PLAN_CACHE_SIZE:
        _plans.clear()
    _plans[key] = (parent_type, node, plan)
    return plan


# A selection's entries: (response name, field nodes, plan or None), in order
Entries = tuple[tuple[str, list[FieldNode], PlainField | None], ...]

# How the items of a list type are completed (`_list_items`): (the item type, whether an
# item may be null, the object type of every item, or the union's members by definition)
ItemsPlan = tuple[GraphQLOutputType, bool, GraphQLObjectType | None, dict[int, GraphQLObjectType]]

# id(list type) -> (list type, its plan or None); the type is kept, so its id is not reused
_lists: dict[int, tuple[GraphQLList[Any], ItemsPlan | None]] = {}


def _list_items(list_type: GraphQLList[Any]) -> ItemsPlan | None:
    """The plan for the items of `list_type` when they are objects of a type without
    `is_type_of`, or members of a union Strawberry resolves (`union_members`), else None."""
    found = _lists.get(id(list_type))
    if found is not None and found[0] is list_type:
        return found[1]
    item_type = list_type.of_type
    nullable = not isinstance(item_type, GraphQLNonNull)
    named = item_type if nullable else item_type.of_type
    plan: ItemsPlan | None = None
    if is_object_type(named) and named.is_type_of is None:
        plan = (item_type, nullable, named, {})
    elif isinstance(named, GraphQLUnionType):
        members = _members(named)
        if members:
            plan = (item_type, nullable, None, members)
    if len(_lists) >= PLAN_CACHE_SIZE:
        _lists.clear()
    _lists[id(list_type)] = (list_type, plan)
    return plan


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with plain fields taken short (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self.plain_fields = manager is None or not manager.middlewares
        # id(collected fields) -> (fields, parent type, entries), for this operation: a
        # selection's plans are looked up once, not once per object of a list
        self._selections: dict[
            int, tuple[dict[str, list[FieldNode]], GraphQLObjectType, Entries]
        ] = {}

    @classmethod
    def build(  # type: ignore[override]
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        field_resolver: Any = None,
        type_resolver: Any = None,
        subscribe_field_resolver: Any = None,
        max_coercion_errors: int = 50,
        middleware: Any = None,
        is_awaitable: Callable[[Any], bool] | None = None,
        **options: Any,
    ) -> Any:
        """graphql-core's `build`, with simple variables coerced by
        `coerce_simple_variables` (subgraphs/common/variables.py) when there is no
        middleware and the document names its operation unambiguously; anything else,
        and any variables it does not take, by graphql-core's own `build`."""
        general = (
            schema,
            document,
            root_value,
            context_value,
            raw_variable_values,
            operation_name,
            field_resolver,
            type_resolver,
            subscribe_field_resolver,
            max_coercion_errors,
            middleware,
            is_awaitable,
        )
        if middleware is not None:
            return super().build(*general, **options)
        operation: OperationDefinitionNode | None = None
        fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if operation_name is None:
                    if operation is not None:
                        return super().build(*general, **options)
                    operation = definition
                elif definition.name and definition.name.value == operation_name:
                    operation = definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
        if operation is None:
            return super().build(*general, **options)
        coerced = coerce_simple_variables(schema, operation, raw_variable_values or {})
        if coerced is None:
            return super().build(*general, **options)
        return cls(
            schema,
            fragments,
            root_value,
            context_value,
            operation,
            coerced,
            field_resolver or default_field_resolver,
            type_resolver or default_type_resolver,
            subscribe_field_resolver or default_field_resolver,
            CollectedErrors(),
            None,
            is_awaitable,
        )

    def _entries(
        self, parent_type: GraphQLObjectType, fields: dict[str, list[FieldNode]]
    ) -> Entries:
        """The selection's entries, made once per collected selection of this operation."""
        found = self._selections.get(id(fields))
        if found is not None and found[0] is fields and found[1] is parent_type:
            return found[2]
        plain = self.plain_fields
        entries = tuple(
            (name, nodes, _plan(parent_type, nodes[0]) if plain else None)
            for name, nodes in fields.items()
        )
        self._selections[id(fields)] = (fields, parent_type, entries)
        return entries

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        """graphql-core's `execute_fields`, with plain fields completed here."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        for response_name, field_nodes, plan in self._entries(parent_type, fields):
            if plan is None:
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_nodes,
                    Path(path, response_name, parent_type.name),
                )
            elif plan.kind == TYPENAME:
                results[response_name] = parent_type.name
                continue
            elif plan.exact is not None:  # a data leaf whose value may be its own answer
                exact: Any = plan.exact
                try:
                    value: Any = plan.get(source_value)  # type: ignore[misc]
                except Exception as raw_error:
                    result = self._read_error(
                        raw_error, plan, parent_type, field_nodes, path, response_name
                    )
                else:
                    if type(value) is exact and (exact is not int or _MIN_INT <= value <= _MAX_INT):
                        results[response_name] = value
                        continue
                    result = self._value(plan, parent_type, value, field_nodes, path, response_name)
            else:
                result = self._plain(
                    plan, parent_type, source_value, field_nodes, path, response_name
                )
            if result is not Undefined:
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            results.update(
                zip(
                    awaitable_fields,
                    await gather(*(results[field] for field in awaitable_fields)),
                    strict=True,
                )
            )
            return results

        return get_results()

    def complete_abstract_value(
        self,
        return_type: GraphQLAbstractType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        """graphql-core's, with the runtime type of a union member's value taken from
        `union_members` (module docstring); anything else as before."""
        if self.plain_fields and isinstance(return_type, GraphQLUnionType):
            definition = getattr(result, "__strawberry_definition__", None)
            if definition is not None:
                member = _members(return_type).get(id(definition))
                if member is not None:
                    return self.complete_object_value(member, field_nodes, info, path, result)
        return super().complete_abstract_value(return_type, field_nodes, info, path, result)

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        """graphql-core's, with each item of a `list` of objects (`_list_items`) that is
        an object of the item type, or of a union member by its definition, completed by
        its selection directly: `execute_fields` with the sub-selection collected once
        per runtime type. Any other item (None, an Exception, an awaitable, Undefined, a
        union value of no known member) is completed by graphql-core's `complete_value`
        as in its own loop, and any other list by graphql-core's."""
        items = _list_items(return_type) if self.plain_fields else None
        if items is None or type(result) is not list:
            return super().complete_list_value(return_type, field_nodes, info, path, result)
        item_type, _nullable, object_type, members = items
        is_awaitable = self.is_awaitable
        sub_fields: dict[GraphQLObjectType, dict[str, list[FieldNode]]] = {}
        awaitable_indices: list[int] = []
        completed_results: list[Any] = []
        for index, item in enumerate(result):
            item_path = path.add_key(index, None)
            runtime_type: GraphQLObjectType | None = None
            if (
                item is not None
                and item is not Undefined
                and not isinstance(item, Exception)
                and not is_awaitable(item)
            ):
                if object_type is not None:
                    runtime_type = object_type
                else:
                    definition = getattr(item, "__strawberry_definition__", None)
                    if definition is not None:
                        runtime_type = members.get(id(definition))
            completed_item: Any
            if runtime_type is None:
                completed_item = self._list_item(item_type, field_nodes, info, item_path, item)
            else:
                try:
                    selection = sub_fields.get(runtime_type)
                    if selection is None:
                        selection = self.collect_subfields(runtime_type, field_nodes)
                        sub_fields[runtime_type] = selection
                    completed_item = self.execute_fields(runtime_type, item, item_path, selection)
                    if is_awaitable(completed_item):
                        completed_item = self._await_completed(
                            completed_item, item_type, field_nodes, item_path
                        )
                except Exception as raw_error:
                    error = located_error(raw_error, field_nodes, item_path.as_list())
                    self.handle_field_error(error, item_type, item_path)
                    completed_item = None
            if is_awaitable(completed_item):
                awaitable_indices.append(index)
            completed_results.append(completed_item)
        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            for index, value in zip(
                awaitable_indices,
                await gather(*(completed_results[index] for index in awaitable_indices)),
                strict=True,
            ):
                completed_results[index] = value
            return completed_results

        return get_completed_results()

    def _list_item(
        self,
        item_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        item_path: Path,
        item: Any,
    ) -> Any:
        """One item of a list completed as graphql-core's `complete_list_value` does."""
        if self.is_awaitable(item):

            async def await_completed() -> Any:
                try:
                    completed = self.complete_value(
                        item_type, field_nodes, info, item_path, await item
                    )
                    if self.is_awaitable(completed):
                        return await completed
                    return completed
                except Exception as raw_error:
                    error = located_error(raw_error, field_nodes, item_path.as_list())
                    self.handle_field_error(error, item_type, item_path)
                    return None

            return await_completed()
        try:
            completed_item = self.complete_value(item_type, field_nodes, info, item_path, item)
            if self.is_awaitable(completed_item):
                return self._await_completed(completed_item, item_type, field_nodes, item_path)
            return completed_item
        except Exception as raw_error:
            error = located_error(raw_error, field_nodes, item_path.as_list())
            self.handle_field_error(error, item_type, item_path)
            return None

    def _plain(
        self,
        plan: PlainField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_nodes: list[FieldNode],
        path: Path | None,
        response_name: str,
    ) -> Any:
        """One plain field's completed value (or an awaitable of it)."""
        assert plan.get is not None
        try:
            value = plan.get(source, self.context_value) if plan.with_context else plan.get(source)
        except Exception as raw_error:  # as `execute_field` handles a resolver's error
            return self._read_error(raw_error, plan, parent_type, field_nodes, path, response_name)
        return self._value(plan, parent_type, value, field_nodes, path, response_name)

    def _read_error(
        self,
        raw_error: Exception,
        plan: PlainField,
        parent_type: GraphQLObjectType,
        field_nodes: list[FieldNode],
        path: Path | None,
        response_name: str,
    ) -> Any:
        """A plain field's read raised: as `execute_field` handles a resolver's error."""
        assert plan.field_def is not None
        field_path = Path(path, response_name, parent_type.name)
        error = located_error(raw_error, field_nodes, field_path.as_list())
        self.handle_field_error(error, plan.field_def.type, field_path)
        return None

    def _value(
        self,
        plan: PlainField,
        parent_type: GraphQLObjectType,
        value: Any,
        field_nodes: list[FieldNode],
        path: Path | None,
        response_name: str,
    ) -> Any:
        """A plain field's completed value (or an awaitable of it), from the value read."""
        assert plan.field_def is not None
        if value is None and plan.nullable:
            return None
        if value is not None and not isinstance(value, Exception) and not self.is_awaitable(value):
            if plan.kind == LIST:
                pass  # completed below, as `execute_field` completes a resolver's list
            elif plan.kind == LEAF:
                assert plan.serialize is not None
                try:
                    serialized = plan.serialize(value)
                except Exception:
                    serialized = None  # completed below, where it raises again
                if serialized is not None and serialized is not Undefined:
                    return serialized
            else:
                return self._object(
                    plan, value, field_nodes, Path(path, response_name, parent_type.name)
                )
        return self._complete(
            plan.field_def,
            parent_type,
            field_nodes,
            Path(path, response_name, parent_type.name),
            value,
        )

    def _object(
        self, plan: PlainField, value: Any, field_nodes: list[FieldNode], path: Path
    ) -> Any:
        """`complete_object_value` of an object type without `is_type_of`, in
        `execute_field`'s error handling."""
        assert plan.field_def is not None
        try:
            sub_fields = self.collect_subfields(plan.named, field_nodes)
            completed = self.execute_fields(plan.named, value, path, sub_fields)
        except Exception as raw_error:
            error = located_error(raw_error, field_nodes, path.as_list())
            self.handle_field_error(error, plan.field_def.type, path)
            return None
        if self.is_awaitable(completed):
            return self._await_completed(completed, plan.field_def.type, field_nodes, path)
        return completed

    def _complete(
        self,
        field_def: GraphQLField,
        parent_type: GraphQLObjectType,
        field_nodes: list[FieldNode],
        path: Path,
        result: Any,
    ) -> Any:
        """What `execute_field` does with a resolver's `result` (graphql-core 3.2)."""
        return_type = field_def.type
        info = self.build_resolve_info(field_def, field_nodes, parent_type, path)
        try:
            if self.is_awaitable(result):

                async def await_result() -> Any:
                    try:
                        completed = self.complete_value(
                            return_type, field_nodes, info, path, await result
                        )
                        if self.is_awaitable(completed):
                            return await completed
                        return completed
                    except Exception as raw_error:
                        error = located_error(raw_error, field_nodes, path.as_list())
                        self.handle_field_error(error, return_type, path)
                        return None

                return await_result()
            completed = self.complete_value(return_type, field_nodes, info, path, result)
            if self.is_awaitable(completed):
                return self._await_completed(completed, return_type, field_nodes, path)
            return completed
        except Exception as raw_error:
            error = located_error(raw_error, field_nodes, path.as_list())
            self.handle_field_error(error, return_type, path)
            return None

    async def _await_completed(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            error = located_error(raw_error, field_nodes, path.as_list())
            self.handle_field_error(error, return_type, path)
            return None
