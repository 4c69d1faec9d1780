"""Router of the multipage app: `make run` (streamlit run streamlit_app.py).

The sidebar's page links are drawn here rather than by ``st.navigation``: with the pages in a
``pages/`` folder, Streamlit would first show that folder's raw file names ("streamlit app, compare,
…") on a deep link until this script ran. ``client.showSidebarNavigation = false`` hides that list,
and also any ``st.navigation`` menu in the sidebar, hence these links.
"""

import streamlit as st

from app.memory import freeze_after_first_run

st.set_page_config(page_title="Last.fm Recommender Explorer", page_icon=":material/headphones:", layout="wide")
pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/fitness_center:"),
    st.Page("pages/metrics.py", title="Metrics", icon=":material/bar_chart:"),
    st.Page("pages/compare.py", title="Compare users", icon=":material/group:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
]
page = st.navigation(pages, position="hidden")
with st.sidebar:
    for linked in pages:
        st.page_link(linked)
    st.caption(
        "Forward chaining on Last.fm hetrec2011-lastfm-2k: train on years before Y, test on year Y "
        "(2008, 2009, 2010). Every trained run is cached."
    )
page.run()
freeze_after_first_run(page.title)  # not reached on st.stop(): that page freezes on a later, complete run
