"""HL7 FHIR R4 scheduling facade (IHE ITI-115..118) and SMART Scheduling Links, over scheduling's services."""
