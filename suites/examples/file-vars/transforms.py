"""The suite's vars transform: called once per case at load, with its vars (and id); returns the vars it uses."""


def normalise(variables: dict, case_id: str) -> dict:
    question = str(variables.get("question", "")).strip()
    return {**variables, "question": question[:1].upper() + question[1:], "case_id": case_id}
