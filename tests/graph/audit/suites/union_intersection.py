"""union-intersection: unions with different members in `a` and `b`; Query.book is a Book in
`a` and a Media union in `b`."""

from tests.graph.fixtures.executable import SubgraphDef

MEDIA = {
    "__typename": "Book",
    "id": "b1",
    "title": "The Lord of the Rings",
    "aTitle": "A: The Lord of the Rings",
    "bTitle": "B: The Lord of the Rings",
}
SONG = {"__typename": "Song", "id": "s2", "title": "Song Title", "aTitle": "A: Song Title"}
MOVIE = {"__typename": "Movie", "id": "m3", "title": "A Movie Title", "bTitle": "B Movie Title"}


def _ref(item: dict):
    return lambda k: item if k["id"] == item["id"] else None


SUBGRAPHS = [
    SubgraphDef(
        "a",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@shareable", "@key"])
        union Media = Book | Song
        union ViewerMedia = Book | Song
        type Book @key(fields: "id") {
          id: ID!
          title: String! @shareable
          aTitle: String!
        }
        type Song @key(fields: "id") {
          id: ID!
          title: String! @shareable
          aTitle: String!
        }
        type Query {
          media: Media @shareable
          aMedia: Media @shareable
          book: Book @shareable
          song: Media @shareable
          viewer: Viewer @shareable
        }
        type Viewer {
          media: ViewerMedia @shareable
          aMedia: ViewerMedia
          book: Book @shareable
          song: ViewerMedia @shareable
        }
        """,
        {
            "Query": {
                "media": lambda _p: MEDIA,
                "aMedia": lambda _p: MEDIA,
                "book": lambda _p: MEDIA,
                "song": lambda _p: SONG,
                "viewer": lambda _p: {"media": MEDIA, "aMedia": MEDIA, "book": MEDIA, "song": SONG},
            },
            "Book": {"__resolveReference": _ref(MEDIA)},
            "Song": {"__resolveReference": _ref(SONG)},
        },
    ),
    SubgraphDef(
        "b",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@shareable", "@key"])
        type Query {
          media: Media @shareable
          bMedia: Media @shareable
          book: Media @shareable
          viewer: Viewer @shareable
        }
        union Media = Book | Movie
        union ViewerMedia = Book | Movie
        type Movie @key(fields: "id") {
          id: ID!
          title: String! @shareable
          bTitle: String!
        }
        type Book @key(fields: "id") {
          id: ID!
          title: String! @shareable
          bTitle: String!
        }
        type Viewer {
          media: ViewerMedia @shareable
          bMedia: ViewerMedia
          book: ViewerMedia @shareable
        }
        """,
        {
            "Query": {
                "media": lambda _p: MEDIA,
                "bMedia": lambda _p: MEDIA,
                "book": lambda _p: MEDIA,
                "viewer": lambda _p: {"media": MEDIA, "bMedia": MOVIE, "book": MEDIA},
            },
            "Book": {"__resolveReference": _ref(MEDIA)},
            "Movie": {"__resolveReference": _ref(MOVIE)},
        },
    ),
]
