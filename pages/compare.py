"""Compare users: one Last.fm user's history, held-out artists and every model's list side by side."""

import pandas as pd
import streamlit as st

from app import charts
from app.state import (
    address_keeping_data,
    column_grid,
    disagreement,
    no_runs_note,
    page_start,
    pick_settings,
    runs_of,
    runs_or_stop,
    splits,
    user_options,
)
from app.text import literal, web_urls
from explorer import recommend
from explorer.models import model_class

dataset = page_start("Compare users")
table = runs_or_stop(dataset)
year_splits = splits(dataset)
years = sorted(set(table["year"]) & set(year_splits))
if not years:
    no_runs_note("for the test years 2008–2010")


def query_int(name: str) -> int | None:
    """An integer query parameter, or None (with a warning) when it is not a whole number."""
    text = st.query_params.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        st.warning(f"The address has {name}={literal(repr(text))}, which is not a number; showing the default instead.")
        return None


wanted_year, wanted_user = query_int("year"), query_int("user")
if wanted_year is not None and wanted_year not in years:
    st.warning(f"There are no cached runs for year {wanted_year}; showing {years[-1]} instead.")
    wanted_year = None
left, right = st.columns([1, 3])
year = left.selectbox("Test year", years, index=years.index(wanted_year or years[-1]), key="compare_year")
split = year_splits[year]
options = user_options(dataset, split)
users = options["user"].tolist()
if wanted_user is not None and wanted_user not in users:
    if st.session_state.get("compare_shown") != (wanted_year, wanted_user):  # not just our own last choice
        st.warning(f"User {wanted_user} has no held-out artists in {year}; showing the first user instead.")
    wanted_user = None
labels = {
    row.user: f"user {row.user} · {row.train_artists} train / {row.test_artists} test artists"
    + (" · cold (no train rows)" if row.cold else "")
    for row in options.itertuples()
}
user = right.selectbox(
    "Last.fm user (type to search)",
    users,
    index=users.index(wanted_user) if wanted_user else 0,
    format_func=labels.get,
    key=f"compare_user_{year}",
)
st.query_params.update({"year": str(year), "user": str(user)})
st.session_state["compare_shown"] = (year, user)

year_table = table[table["year"] == year]
chosen = runs_of(pick_settings(year_table, "compare_setting"))
top_n = st.slider("List length", 5, 50, 10, key="compare_top_n")

history = recommend.user_history(dataset, split, user)
held = recommend.held_out(dataset, split, user)
left, right = st.columns(2)
with left:
    st.subheader(f"History before {year}")
    if history.empty:
        st.info("A cold user: no interactions before the test year. Models that do not know them show popularity.")
    else:
        st.dataframe(
            history[["name", "url", "listens", "year"]].assign(url=web_urls(history["url"])),
            hide_index=True,
            key="history_table",
            height=260,
            column_config={"url": st.column_config.LinkColumn("Last.fm", display_text="open")},
        )
    tags = recommend.user_top_tags(dataset, split, user)
    if not tags.empty:
        st.caption(
            literal(
                "Top tags before the test year: " + ", ".join(f"{t} ({n})" for t, n in tags.itertuples(index=False))
            )
        )
with right:
    st.subheader(f"Held out: tagged in {year}")
    st.dataframe(
        held[["name", "url", "date", "rankable"]].assign(url=web_urls(held["url"])),
        hide_index=True,
        key="held_out_table",
        height=260,
        column_config={
            "url": st.column_config.LinkColumn("Last.fm", display_text="open"),
            "rankable": st.column_config.CheckboxColumn("seen in train", help="only these can be ranked by any model"),
        },
    )

st.subheader(f"Top {top_n} of each model")
st.caption("*hit* marks an artist the user really tagged in the test year.")
lists = {}
names = dict(zip(history["artistID"], history["name"], strict=True))
for column, run in zip(column_grid(len(chosen), 4), chosen, strict=True):
    recommended = recommend.recommendations(dataset, split, run, user, top_n)
    lists[run.model] = recommended["artistID"].tolist()
    shown = pd.DataFrame({"#": recommended["rank"], "held out": recommended["hit"], "artist": recommended["name"]})
    if run.model.startswith("lightgcn"):
        reasons = recommend.because(run, split, user, recommended["artistID"])
        shown["because you listen to"] = [
            ", ".join(names[a] for a in reasons.get(i, [])) for i in recommended["artistID"]
        ]
    shown["Last.fm"] = web_urls(recommended["url"])
    with column:
        personal = model_class(run.model).personal  # popularity ranks everybody alike by design
        unknown = personal and not run.recommender().knows([user])[0]
        fallback = " · popularity fallback (user unknown to it)" if unknown else ""
        st.markdown(f"**{run.model}**  \n{recommended['hit'].sum()} hit(s){fallback}")
        st.dataframe(  # a data grid shows names as text: no Markdown, no HTML
            shown,
            hide_index=True,
            key=f"top_list_{run.model}",
            height=min(36 + 35 * len(shown), 736),
            column_config={
                "#": st.column_config.NumberColumn(width=30),
                "held out": st.column_config.CheckboxColumn("hit", width=40, help="held out: tagged in the test year"),
                "Last.fm": st.column_config.LinkColumn(display_text="open", width=50),
            },
        )

st.subheader("Rank of every held-out artist under every model")
ranks = recommend.held_out_ranks(chosen, user)
ranks = held[["artistID", "name"]].merge(ranks, on="artistID", how="left").drop(columns="artistID")
st.dataframe(ranks, hide_index=True, key="held_out_ranks")
st.caption("Empty where the artist was never seen in training (no model can rank it). Lower is better.")

if len(lists) > 1:
    st.subheader("Overlap between the lists")
    st.plotly_chart(charts.overlap(recommend.overlap(lists)), key="overlap_chart")
    st.caption("Jaccard overlap: shared artists / artists in either list.")

    st.subheader(f"Where the models disagree most in {year}")
    disagree = disagreement(chosen, split, n=10)
    disagree.insert(0, "open", [address_keeping_data(user=u, year=year) for u in disagree["user"]])
    st.dataframe(
        disagree,
        hide_index=True,
        key="disagreement_table",
        column_config={
            "open": st.column_config.LinkColumn("view", display_text="compare"),
            "mean_overlap": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.caption(
        "Test users whose top-10 lists overlap least across the models; *hits* count held-out artists in each list. "
        "Computed once per runs and year."
    )
